package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
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
	env := servertest.StartJobs(t, servertest.JobsOptions{}).Env

	out := mustRunJob(t, env, "builtins")
	// Several built-ins have a window argument; window-count's block lists its default 1m.
	_, windowCount, _ := strings.Cut(out, "window-count: count records")
	if windowCount == "" || !slicesEqual(row(t, out, "from")[1:4], []string{"(required)", "stream", "to"}) || row(t, windowCount, "window")[1] != "1m" {
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

	// This server keeps no checkpoints: the table says nothing, the JSON says so.
	if out = mustRunJob(t, env, "checkpoints", "counts"); out != "" {
		t.Fatalf("checkpoints of a job without any printed\n%s", out)
	}
	var cps wire.ListCheckpointsResponse
	if err := json.Unmarshal([]byte(mustRunJob(t, env, "checkpoints", "counts", "-o", "json")), &cps); err != nil || cps.Checkpoints == nil || len(cps.Checkpoints) != 0 || cps.Latest != nil {
		t.Fatalf("checkpoints -o json of a job without any: %+v %v", cps, err)
	}

	out = mustRunJob(t, env, "stop", "counts")
	if row(t, out, "state:")[1] != wire.JobCanceled || row(t, out, "finished:")[1] == "-" {
		t.Fatalf("stop printed\n%s", out)
	}
	if _, err := runJob(env, "describe", "ghost"); err == nil || !strings.Contains(err.Error(), "JobNotFound") {
		t.Fatalf("describe of a missing job: %v", err)
	}
}

func TestJobCheckpointsCommand(t *testing.T) {
	env := servertest.StartJobs(t, servertest.JobsOptions{Checkpoints: flow.NewMemStore(), CheckpointInterval: 50 * time.Millisecond}).Env
	mustRun(t, env, "", "create", "clicks")
	mustRunJob(t, env, "start", "counts", "--builtin", "running-count", "--arg", "from=clicks", "--arg", "to=click-counts")
	mustRun(t, env, "", "put", "clicks", "--key", "user-1", "a", "b", "c")

	var list wire.ListCheckpointsResponse
	deadline := time.Now().Add(20 * time.Second)
	for len(list.Checkpoints) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two checkpoints completed: %+v", list)
		}
		time.Sleep(50 * time.Millisecond)
		if err := json.Unmarshal([]byte(mustRunJob(t, env, "checkpoints", "counts", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
	}
	if list.Latest == nil || list.Latest.ID != list.Checkpoints[0].ID || list.Checkpoints[0].Status != wire.CheckpointCompleted {
		t.Fatalf("checkpoints -o json: %+v", list)
	}

	out := mustRunJob(t, env, "checkpoints", "counts")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	header := lines[0]
	if strings.Join(strings.Fields(header), " ") != "ID TRIGGERED DURATION MAX PAUSE SIZE" || len(lines) < 3 {
		t.Fatalf("checkpoints printed\n%s", out)
	}
	// The columns line up under their headings, the newest checkpoint first.
	var prev int64
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) != 6 {
			t.Fatalf("row %q has %d fields, want 6 (the size has a unit)", line, len(f))
		}
		for i, col := range []string{"TRIGGERED", "DURATION", "MAX PAUSE", "SIZE"} {
			if at := strings.Index(header, col); !strings.HasPrefix(line[at:], f[i+1]) {
				t.Fatalf("column %s starts at %d in the header, but row %q has %q there", col, at, line, line[at:])
			}
		}
		id, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || prev != 0 && id != prev-1 {
			t.Fatalf("row %q follows checkpoint %d", line, prev)
		}
		prev = id
		trig, err := time.Parse(timeMillis, f[1])
		if err != nil || time.Since(trig) > time.Minute || time.Since(trig) < 0 {
			t.Fatalf("row %q: triggered %v %v", line, trig, err)
		}
		dur, err1 := time.ParseDuration(f[2])
		pause, err2 := time.ParseDuration(f[3])
		if err1 != nil || err2 != nil || pause > dur {
			t.Fatalf("row %q: duration %v (%v), max pause %v (%v)", line, dur, err1, pause, err2)
		}
		if n, err := strconv.ParseFloat(f[4], 64); err != nil || n <= 0 || f[5] != "B" && f[5] != "KiB" {
			t.Fatalf("row %q: size %s %s", line, f[4], f[5])
		}
	}

	if _, err := runJob(env, "checkpoints", "ghost"); err == nil || !strings.Contains(err.Error(), "JobNotFound") {
		t.Fatalf("checkpoints of a missing job: %v", err)
	}
}

func TestFmtSize(t *testing.T) {
	for _, c := range []struct {
		b    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3 << 40, "3.0 TiB"},
		{5 << 50, "5120.0 TiB"},
	} {
		if got := fmtSize(c.b); got != c.want {
			t.Fatalf("fmtSize(%d) = %q, want %q", c.b, got, c.want)
		}
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
