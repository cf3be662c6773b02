package verify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/client"
)

// startTimeout bounds how long a server may take to print the address it serves on.
const startTimeout = 60 * time.Second

// server is one running `eddy serve` child process.
type server struct {
	cmd    *exec.Cmd
	url    string
	client *client.Client
	exited chan struct{} // closed once the process has exited and been reaped
	err    error         // how it exited, set before exited is closed
	killed atomic.Bool   // the exit was ours
	stderr *tail
}

// startServer runs `binary serve` on dataDir and a free loopback port and waits until it
// serves. On error no process is left running.
func startServer(ctx context.Context, binary, dataDir string, interval time.Duration) (*server, error) {
	cmd := exec.Command(binary, "serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--checkpoint-interval", interval.String())
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = serverProcAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), stderr: &tail{max: 16 << 10}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	urls := make(chan string, 1)
	go func() {
		// Read stdout to its end so the server never blocks on a full pipe; it also
		// prints the admin token when it creates one, which goes nowhere.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "eddy serving on "); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					select {
					case urls <- f[0]:
					default:
					}
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		// Wait closes the pipe, so it runs once the output has been read.
		s.err = cmd.Wait()
		close(s.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case s.url = <-urls:
	case <-s.exited:
		return nil, fmt.Errorf("eddy serve exited before serving (%v):\n%s", s.err, s.stderr)
	case <-timer.C:
		s.kill()
		return nil, fmt.Errorf("eddy serve did not start in %s:\n%s", startTimeout, s.stderr)
	case <-ctx.Done():
		s.kill()
		return nil, context.Cause(ctx)
	}
	token, err := auth.ReadTokenFile(filepath.Join(dataDir, auth.AdminTokenFile))
	if err != nil {
		s.kill()
		return nil, fmt.Errorf("read the admin token of eddy serve: %w", err)
	}
	s.client = client.New(s.url, token, nil)
	return s, nil
}

// kill ends the server with SIGKILL, so no shutdown code runs, and waits until it has
// exited. It does nothing to a server that has already exited.
func (s *server) kill() {
	s.killed.Store(true)
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// cleanEnv keeps EDDY_* settings of the caller's environment away from the servers:
// the run must use the data dir's default checkpoint store and the flags it passes.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EDDY_") {
			env = append(env, kv)
		}
	}
	return env
}

// tail keeps the last max bytes written to it: the end of a server's log, for errors.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
