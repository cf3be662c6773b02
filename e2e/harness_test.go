package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/client"
)

// binDir holds the binaries TestMain builds once for every test.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eddy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var buildOnce sync.Map // package path -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// binary builds a main package once per test run and returns the executable's path.
func binary(t *testing.T, pkg, name string) string {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, name)
		out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// eddyProc is a running `eddy serve`.
type eddyProc struct {
	cmd     *exec.Cmd
	URL     string
	DataDir string
	exited  chan struct{}
	logs    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startEddy runs `eddy serve` on a free loopback port and waits until it serves.
func startEddy(t *testing.T, dataDir string, args ...string) *eddyProc {
	t.Helper()
	return startEddyEnv(t, dataDir, nil, args...)
}

// startEddyEnv is startEddy with env (KEY=value) added to the server's environment.
func startEddyEnv(t *testing.T, dataDir string, env []string, args ...string) *eddyProc {
	t.Helper()
	bin := binary(t, "github.com/eddy-streams/eddy/cmd/eddy", "eddy")
	args = append([]string{"serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--shutdown-timeout", "5s"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &eddyProc{cmd: cmd, DataDir: dataDir, exited: make(chan struct{}), logs: &lockedBuffer{}}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.kill() })
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "eddy serving on "); ok {
				urlCh <- strings.Fields(rest)[0]
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p.URL = <-urlCh:
	case <-p.exited:
		t.Fatalf("eddy exited before serving:\n%s", p.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("eddy did not start in 60s:\n%s", p.logs)
	}
	return p
}

// cleanEnv keeps EDDY_* settings of the developer's shell out of the test's server.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EDDY_") {
			env = append(env, kv)
		}
	}
	return env
}

// client returns an API client that uses the admin token the server wrote.
func (p *eddyProc) client(t *testing.T) *client.Client {
	t.Helper()
	token, err := auth.ReadTokenFile(filepath.Join(p.DataDir, auth.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return client.New(p.URL, token, nil)
}

// kill9 ends the server with SIGKILL: no shutdown code runs.
func (p *eddyProc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

func (p *eddyProc) kill() {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	}
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
