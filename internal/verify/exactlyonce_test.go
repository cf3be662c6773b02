//go:build unix

package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeEddy writes a shell script that stands in for the eddy binary: it records its
// pid in the data dir (the third argument of `serve --data-dir D`), then runs body.
func fakeEddy(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "eddy")
	script := "#!/bin/sh\necho $$ > \"$3/pid\"\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeConfig is a run of a fake binary on a data dir of the test's.
func fakeConfig(t *testing.T, binary string) Config {
	cfg := DefaultConfig()
	cfg.Binary = binary
	cfg.DataDir = t.TempDir()
	return cfg
}

// TestExactlyOnceKillsTheServerOnError runs servers that start and then cannot be used:
// the run must fail with the reason and leave no process and no goroutine behind.
func TestExactlyOnceKillsTheServerOnError(t *testing.T) {
	defer goleak.VerifyNone(t)
	serving := `echo "eddy serving on http://127.0.0.1:1 (fake)"; exec sleep 600`
	for _, tc := range []struct {
		name, body string
		token      bool
		err        string
	}{
		{name: "no admin token", body: serving, err: "read the admin token of eddy serve"},
		{name: "no API", body: serving, token: true, err: "create stream events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fakeConfig(t, fakeEddy(t, tc.body))
			if tc.token {
				if err := os.WriteFile(filepath.Join(cfg.DataDir, "admin.token"), []byte("eddy_fake\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ExactlyOnce(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want one about %q", err, tc.err)
			}
			raw, rerr := os.ReadFile(filepath.Join(cfg.DataDir, "pid"))
			pid, perr := strconv.Atoi(strings.TrimSpace(string(raw)))
			if rerr != nil || perr != nil {
				t.Fatalf("the fake server left no pid: %v %v", rerr, perr)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Fatalf("server pid %d still exists after the run returned (signal 0: %v)", pid, err)
			}
		})
	}
}

func TestExactlyOnceReportsAServerThatDoesNotStart(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := fakeConfig(t, fakeEddy(t, `echo "listen on 127.0.0.1:0: no" >&2; exit 1`))
	_, err := ExactlyOnce(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "exited before serving") || !strings.Contains(err.Error(), "listen on 127.0.0.1:0: no") {
		t.Fatalf("err %v, want one with the server's log", err)
	}
}

func TestExactlyOnceStopsWithItsContext(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := fakeConfig(t, fakeEddy(t, "exec sleep 600")) // never serves
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ExactlyOnce(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s, want the context's deadline soon", err, time.Since(start))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Config)
		err  string
	}{
		{func(c *Config) { c.Binary = "" }, "no eddy binary"},
		{func(c *Config) { c.Kills = -1 }, "kills must be 0 or more"},
		{func(c *Config) { c.Keys = 0 }, "keys must be 1 or more"},
		{func(c *Config) { c.Events = 5 }, "events (5) must be at least keys (20)"},
		{func(c *Config) { c.CheckpointInterval = 0 }, "checkpoint interval must be at least 1ms"},
	} {
		cfg := DefaultConfig()
		cfg.Binary = "eddy"
		tc.edit(&cfg)
		if _, err := ExactlyOnce(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("err %v, want %q", err, tc.err)
		}
	}
}
