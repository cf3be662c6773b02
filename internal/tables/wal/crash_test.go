package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

const (
	crashDirEnv     = "EDDY_WAL_CRASH_DIR"
	crashAppenders  = 8
	crashAcksBefore = 2000 // acknowledgements the parent reads before it kills the child
)

// crashPayload is appender g's entry i.
func crashPayload(g, i int) []byte {
	return append(fmt.Appendf(nil, "%d/%d/", g, i), bytes.Repeat([]byte{byte('a' + g)}, (i*13)%400)...)
}

// TestCrashChild is the process TestCrashKeepsAcknowledgedEntries kills: it appends from
// several goroutines until it dies, printing "g i segment offset" for every entry once
// Append has acknowledged it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestCrashKeepsAcknowledgedEntries")
	}
	l, err := Open(Options{Dir: dir, SegmentSize: 32 << 10, Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range crashAppenders {
		wg.Go(func() {
			for i := 0; ; i++ {
				pos, err := l.Append(crashPayload(g, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				// One write per line, so a kill never leaves half a line.
				_, _ = fmt.Fprintf(os.Stdout, "%d %d %d %d\n", g, i, pos.Segment, pos.Offset)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashKeepsAcknowledgedEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		g, i int
		pos  Pos
	}
	var acks []ack
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var a ack
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %d %d", &a.g, &a.i, &a.pos.Segment, &a.pos.Offset); err != nil {
			continue // the test framework's own output
		}
		acks = append(acks, a)
		if len(acks) == crashAcksBefore && !killed {
			// SIGKILL: no deferred function, no Close, no flush runs in the child.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	_ = cmd.Wait() // killed, so an error
	if !killed {
		t.Fatalf("the child exited after %d acknowledgements, before it was killed", len(acks))
	}

	l, err := Open(Options{Dir: dir, SegmentSize: 32 << 10, Fsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, l)
	byPos := map[Pos][]byte{}
	next := make([]int, crashAppenders)
	err = l.Replay(Pos{}, func(pos Pos, payload []byte) error {
		var g, i int
		if _, err := fmt.Sscanf(string(payload), "%d/%d/", &g, &i); err != nil || g < 0 || g >= crashAppenders {
			return fmt.Errorf("entry at %v: payload %.40q", pos, payload)
		}
		// Each appender waited for one entry before the next, so its entries form a prefix.
		if i != next[g] {
			return fmt.Errorf("appender %d: entry %d at %v, want %d", g, i, pos, next[g])
		}
		next[g]++
		byPos[pos] = bytes.Clone(payload)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acks {
		if got, want := byPos[a.pos], crashPayload(a.g, a.i); !bytes.Equal(got, want) {
			t.Fatalf("acknowledged entry %d/%d at %v: replayed %.40q, want %.40q", a.g, a.i, a.pos, got, want)
		}
	}
	t.Logf("%d acknowledged entries, %d on disk after the kill, in %d segments", len(acks), len(byPos), len(l.Segments()))
}
