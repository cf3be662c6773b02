package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// runJob runs `eddy job args...` against env, returning what it printed.
func runJob(env *servertest.Env, args ...string) (string, error) {
	cmd := newJobCmd()
	cmd.SetArgs(append(args, "--server", env.URL, "--token", env.Token))
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func mustRunJob(t *testing.T, env *servertest.Env, args ...string) string {
	t.Helper()
	out, err := runJob(env, args...)
	if err != nil {
		t.Fatalf("eddy job %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestJobCommands(t *testing.T) {
	env := servertest.StartJobs(t, servertest.Options{}).Env

	out := mustRunJob(t, env, "builtins")
	if !strings.Contains(out, "window-count: count records") || !slicesEqual(row(t, out, "from")[1:4], []string{"(required)", "stream", "to"}) || row(t, out, "window")[1] != "1m" {
		t.Fatalf("builtins printed\n%s", out)
	}
	var builtins wire.ListBuiltinsResponse
	if err := json.Unmarshal([]byte(mustRunJob(t, env, "builtins", "-o", "json")), &builtins); err != nil || len(builtins.Builtins) < 2 {
		t.Fatalf("builtins -o json: %+v %v", builtins, err)
	}

	mustRun(t, env, "", "create", "clicks")
	out = mustRunJob(t, env, "start", "counts", "--builtin", "window-count",
		"--arg", "from=clicks", "--arg", "to=click-counts", "--arg", "window=1h", "--arg", "start=TRIM_HORIZON")
	if row(t, out, "job:")[1] != "counts" || row(t, out, "builtin:")[1] != "window-count" || !strings.Contains(out, "start=TRIM_HORIZON to=click-counts window=1h") {
		t.Fatalf("start printed\n%s", out)
	}
	if _, err := runJob(env, "start", "counts", "--builtin", "window-count", "--arg", "from=clicks", "--arg", "to=x"); err == nil || !strings.Contains(err.Error(), "JobExists") {
		t.Fatalf("a second start under the name: %v", err)
	}
	if _, err := runJob(env, "start", "other", "--builtin", "window-count", "--arg", "from"); err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
		t.Fatalf("--arg without a value: %v", err)
	}
	if _, err := runJob(env, "start", "other", "--builtin", "nope"); err == nil || !strings.Contains(err.Error(), "BuiltinNotFound") {
		t.Fatalf("an unknown builtin: %v", err)
	}

	mustRun(t, env, "", "put", "clicks", "--key", "user-1", "a", "b", "c")
	deadline := time.Now().Add(20 * time.Second)
	for {
		out = mustRunJob(t, env, "ls")
		if r := row(t, out, "counts"); r[2] == wire.JobRunning && r[5] == "3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ls never showed the 3 records read:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(out, "NAME") || !slicesEqual(row(t, out, "counts")[:2], []string{"counts", "window-count"}) || row(t, out, "counts")[4] != "2" {
		t.Fatalf("ls printed\n%s", out)
	}

	out = mustRunJob(t, env, "describe", "counts")
	if row(t, out, "state:")[1] != wire.JobRunning || !strings.Contains(out, "read clicks -> count  hash") || !strings.Contains(out, "chained: write click-counts") {
		t.Fatalf("describe printed\n%s", out)
	}
	// Operator names have spaces: "read clicks" takes two fields.
	table := out[strings.Index(out, "OPERATOR"):]
	if r := row(t, table, "read"); r[1] != "clicks" || r[2] != "0" || r[3] != "3" || !strings.HasSuffix(r[8], "%") {
		t.Fatalf("describe row of the source: %v\n%s", r, out)
	}
	if r := row(t, table, "OPERATOR"); strings.Join(r, " ") != "OPERATOR SUBTASK IN OUT IN/S OUT/S WATERMARK LAG BUSY BACKPRESSURED STATE ENTRIES" {
		t.Fatalf("describe header %v", r)
	}
	var d wire.JobDescription
	if err := json.Unmarshal([]byte(mustRunJob(t, env, "describe", "counts", "-o", "json")), &d); err != nil || len(d.Operators) != 2 || d.Operators[0].Subtasks[0].RecordsIn != 3 {
		t.Fatalf("describe -o json: %+v %v", d, err)
	}

	out = mustRunJob(t, env, "stop", "counts")
	if row(t, out, "state:")[1] != wire.JobCanceled || row(t, out, "finished:")[1] == "-" {
		t.Fatalf("stop printed\n%s", out)
	}
	if _, err := runJob(env, "describe", "ghost"); err == nil || !strings.Contains(err.Error(), "JobNotFound") {
		t.Fatalf("describe of a missing job: %v", err)
	}
}

func TestFmtLag(t *testing.T) {
	lag := int64(1500)
	for _, c := range []struct {
		s    wire.Subtask
		want string
	}{
		{wire.Subtask{}, "-"},
		{wire.Subtask{WatermarkLagMillis: &lag}, "1.5s"},
		{wire.Subtask{InputEnded: true}, "ended"},
	} {
		if got := fmtLag(c.s); got != c.want {
			t.Fatalf("fmtLag(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}
