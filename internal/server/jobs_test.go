package server_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

func TestJobLifecycle(t *testing.T) {
	env := servertest.StartJobs(t, servertest.JobsOptions{})
	c := newCaller(t, env.Env)

	var builtins wire.ListBuiltinsResponse
	c.json("GET", "/v1/builtins", "", 200, &builtins)
	var wc *wire.Builtin
	for i, b := range builtins.Builtins {
		if b.Name == "window-count" {
			wc = &builtins.Builtins[i]
		}
	}
	if wc == nil || wc.Description == "" {
		t.Fatalf("builtins lack window-count: %+v", builtins)
	}
	args := map[string]wire.BuiltinArg{}
	for _, a := range wc.Args {
		args[a.Name] = a
	}
	if !args["from"].Required || args["from"].Help == "" || args["window"].Default != "1m" || args["window"].Required {
		t.Fatalf("window-count args: %+v", wc.Args)
	}

	c.json("POST", "/v1/streams", `{"name":"clicks","shards":2}`, 201, nil)
	start := `{"name":"counts","builtin":"window-count","args":{"from":"clicks","to":"click-counts","window":"1h","start":"TRIM_HORIZON","parallelism":"2"}}`
	r := c.do("POST", "/v1/jobs", start)
	if r.status != 201 || r.header.Get("Location") != "/v1/jobs/counts" {
		t.Fatalf("start: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	wantError(t, c.do("POST", "/v1/jobs", start), 409, "JobExists", "counts")

	var recs strings.Builder
	recs.WriteString(`{"records":[`)
	for i := range 40 {
		if i > 0 {
			recs.WriteString(",")
		}
		fmt.Fprintf(&recs, `{"partitionKey":"user-%d","text":"click"}`, i%5)
	}
	recs.WriteString(`]}`)
	c.json("POST", "/v1/streams/clicks/records", recs.String(), 200, nil)

	// Describe until the source has read everything and a rate shows it.
	var d wire.JobDescription
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.json("GET", "/v1/jobs/counts", "", 200, &d)
		if d.State == wire.JobRunning && len(d.Operators) == 2 && len(d.Operators[0].Subtasks) == 1 {
			if src := d.Operators[0].Subtasks[0]; src.RecordsIn == 40 && src.RecordsInPerSecond > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job did not read the 40 records: %+v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d.Builtin != "window-count" || d.Args["window"] != "1h" || d.Args["from"] != "clicks" || d.Started.IsZero() || !d.Finished.IsZero() {
		t.Fatalf("description: %+v", d)
	}
	src, count := d.Operators[0], d.Operators[1]
	if src.Name != "read clicks" || src.Parallelism != 1 || count.Name != "count" || count.Parallelism != 2 || len(count.Subtasks) != 2 {
		t.Fatalf("operators: %+v", d.Operators)
	}
	if len(count.Chained) != 1 || count.Chained[0] != "write click-counts" {
		t.Fatalf("the sink should be chained into count: %+v", count)
	}
	if len(d.Edges) != 1 || d.Edges[0] != (wire.Edge{From: "read clicks", To: "count", Partitioning: "hash"}) {
		t.Fatalf("edges: %+v", d.Edges)
	}
	for _, op := range d.Operators {
		for _, s := range op.Subtasks {
			if sum := s.BusyFraction + s.IdleFraction + s.BackpressuredFraction; sum < 0.999 || sum > 1.001 {
				t.Fatalf("%s[%d]: fractions add up to %f: %+v", op.Name, s.Index, sum, s)
			}
			if (s.Watermark == nil) != (s.WatermarkLagMillis == nil) || s.InputEnded {
				t.Fatalf("%s[%d]: watermark %v, lag %v, input ended %v", op.Name, s.Index, s.Watermark, s.WatermarkLagMillis, s.InputEnded)
			}
			if s.Watermark != nil && (*s.WatermarkLagMillis < 0 || time.Since(*s.Watermark) > time.Minute) {
				t.Fatalf("%s[%d]: watermark %v (arrival time of records put just now), lag %dms", op.Name, s.Index, *s.Watermark, *s.WatermarkLagMillis)
			}
		}
	}
	// Records cross the hash edge to the two count subtasks.
	waitUntil(t, func() string {
		c.json("GET", "/v1/jobs/counts", "", 200, &d)
		var counted int64
		for _, s := range d.Operators[1].Subtasks {
			counted += s.RecordsIn
		}
		if counted == 40 {
			return ""
		}
		return fmt.Sprintf("the count subtasks received %d of 40 records", counted)
	})

	var list wire.ListJobsResponse
	c.json("GET", "/v1/jobs", "", 200, &list)
	if len(list.Jobs) != 1 || list.Jobs[0] != (wire.JobSummary{Name: "counts", Builtin: "window-count", State: wire.JobRunning, Started: d.Started, Operators: 2, RecordsIn: 40, RecordsOut: 0}) {
		t.Fatalf("list: %+v", list.Jobs)
	}

	// This server keeps no checkpoints: the list is empty, not null.
	if r := c.do("GET", "/v1/jobs/counts/checkpoints", ""); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"checkpoints":[],"latest":null}` {
		t.Fatalf("checkpoints of a job without any: %d %s", r.status, r.body)
	}

	metrics := string(c.do("GET", "/metrics", "").body)
	if strings.Contains(metrics, "eddy_job_checkpoint_duration_seconds{") {
		t.Fatalf("a job without checkpoints has a checkpoint duration:\n%s", grepLines(metrics, "checkpoint"))
	}
	for _, want := range []string{
		`eddy_job_checkpoints_completed_total{job="counts"} 0`,
		`eddy_job_records_in_total{job="counts",operator="read clicks",subtask="0"} 40`,
		`eddy_job_state_entries{job="counts",operator="count",subtask="1"}`,
		`eddy_job_busy_seconds_total{job="counts",operator="count",subtask="0"}`,
		`eddy_jobs{state="RUNNING"} 1`,
		`eddy_jobs{state="CANCELED"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %s:\n%s", want, grepLines(metrics, "eddy_job"))
		}
	}
	if sum := sumSeries(t, metrics, `eddy_job_records_in_total{job="counts",operator="count"`); sum != 40 {
		t.Fatalf("the count subtasks' eddy_job_records_in_total add up to %v, want 40", sum)
	}

	c.json("POST", "/v1/jobs/counts/stop", "", 200, &d)
	if d.State != wire.JobCanceled || d.Finished.IsZero() || d.Operators[0].Subtasks[0].RecordsIn != 40 {
		t.Fatalf("stop: %+v", d)
	}
	if !strings.Contains(string(c.do("GET", "/metrics", "").body), `eddy_jobs{state="CANCELED"} 1`) {
		t.Fatal("a stopped job should count as CANCELED in eddy_jobs")
	}
	// The name is free again once the job stopped.
	c.json("POST", "/v1/jobs", start, 201, &d)
	if d.Name != "counts" || d.State == wire.JobCanceled {
		t.Fatalf("start again: %+v", d)
	}
}

func TestJobErrors(t *testing.T) {
	env := servertest.StartJobs(t, servertest.JobsOptions{})
	c := newCaller(t, env.Env)
	c.json("POST", "/v1/streams", `{"name":"clicks"}`, 201, nil)

	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j","builtin":"nope"}`), 404, "BuiltinNotFound", "nope", "window-count")
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j","builtin":"window-count","args":{"from":"clicks"}}`), 400, "MissingArgument", `"to"`)
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j","builtin":"window-count","args":{"from":"clicks","to":"x","color":"red"}}`), 400, "UnknownArgument", "color")
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j","builtin":"window-count","args":{"from":"nope","to":"x"}}`), 404, "StreamNotFound")
	wantError(t, c.do("POST", "/v1/jobs", `{"builtin":"window-count"}`), 400, "MissingParameter", "name")
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j"}`), 400, "MissingParameter", "builtin", "/v1/builtins")
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"no spaces","builtin":"window-count"}`), 400, "InvalidJobName")
	wantError(t, c.do("POST", "/v1/jobs", `{"name":"j","builtin":"window-count","args":{"from":1}}`), 400, "MalformedJSON", "args")
	wantError(t, c.do("GET", "/v1/jobs/ghost", ""), 404, "JobNotFound", "ghost")
	wantError(t, c.do("POST", "/v1/jobs/ghost/stop", ""), 404, "JobNotFound", "ghost")
	wantError(t, c.do("GET", "/v1/jobs/ghost/checkpoints", ""), 404, "JobNotFound", "ghost")
	wantError(t, c.do("GET", "/v1/jobs", "", "Authorization", ""), 401, "Unauthenticated")

	var list wire.ListJobsResponse
	c.json("GET", "/v1/jobs", "", 200, &list)
	if list.Jobs == nil || len(list.Jobs) != 0 {
		t.Fatalf("no job started, yet the list is %+v", list)
	}
}

func TestJobCheckpoints(t *testing.T) {
	env := servertest.StartJobs(t, servertest.JobsOptions{Checkpoints: flow.NewMemStore(), CheckpointInterval: 50 * time.Millisecond})
	c := newCaller(t, env.Env)
	c.json("POST", "/v1/streams", `{"name":"clicks"}`, 201, nil)
	c.json("POST", "/v1/jobs", `{"name":"counts","builtin":"running-count","args":{"from":"clicks","to":"click-counts"}}`, 201, nil)
	var recs strings.Builder
	recs.WriteString(`{"records":[`)
	for i := range 30 {
		if i > 0 {
			recs.WriteString(",")
		}
		fmt.Fprintf(&recs, `{"partitionKey":"user-%d","text":"click"}`, i%5)
	}
	recs.WriteString(`]}`)
	c.json("POST", "/v1/streams/clicks/records", recs.String(), 200, nil)
	waitUntil(t, func() string {
		var d wire.JobDescription
		c.json("GET", "/v1/jobs/counts", "", 200, &d)
		var counted int64
		for _, s := range d.Operators[len(d.Operators)-1].Subtasks {
			counted += s.RecordsOut
		}
		if counted == 30 {
			return ""
		}
		return fmt.Sprintf("the job counted %d of 30 records", counted)
	})

	// Wait for a checkpoint of the counts of the 5 keys.
	counted := time.Now()
	var (
		list wire.ListCheckpointsResponse
		body []byte
	)
	waitUntil(t, func() string {
		r := c.do("GET", "/v1/jobs/counts/checkpoints", "")
		body = r.body
		if err := json.Unmarshal(body, &list); r.status != 200 || err != nil {
			t.Fatalf("checkpoints: %d %s", r.status, body)
		}
		if list.Latest != nil && list.Latest.Triggered.After(counted) {
			return ""
		}
		return fmt.Sprintf("no checkpoint triggered after the records were counted: %s", body)
	})
	if want := `"triggered":"` + list.Latest.Triggered.Format(time.RFC3339Nano) + `"`; !strings.Contains(string(body), want) || list.Latest.Triggered.Location() != time.UTC {
		t.Fatalf("the latest checkpoint's trigger time should be %s in UTC:\n%s", want, body)
	}
	if len(list.Checkpoints) == 0 || *list.Latest != list.Checkpoints[0] {
		t.Fatalf("latest %+v is not the first of %+v", list.Latest, list.Checkpoints)
	}
	for i, cp := range list.Checkpoints {
		// A fresh store numbers the run's checkpoints from 1; the newest comes first.
		if want := list.Latest.ID - int64(i); cp.ID != want {
			t.Fatalf("checkpoint %d has id %d, want %d: %+v", i, cp.ID, want, list.Checkpoints)
		}
		if cp.Status != wire.CheckpointCompleted || cp.Bytes <= 0 || cp.MaxPauseMillis < 0 || cp.MaxPauseMillis > cp.DurationMillis || time.Since(cp.Triggered) > time.Minute {
			t.Fatalf("checkpoint %+v", cp)
		}
	}
	if last := list.Checkpoints[len(list.Checkpoints)-1]; last.ID != 1 && len(list.Checkpoints) < wire.MaxListedCheckpoints {
		t.Fatalf("the oldest listed checkpoint is %d, not 1, though fewer than %d are listed", last.ID, wire.MaxListedCheckpoints)
	}

	metrics := string(c.do("GET", "/metrics", "").body)
	series := func(name string) float64 {
		prefix := name + `{job="counts"}`
		if !strings.Contains(metrics, prefix) {
			t.Fatalf("metrics lack %s:\n%s", prefix, grepLines(metrics, "checkpoint"))
		}
		return sumSeries(t, metrics, prefix)
	}
	if n := series("eddy_job_checkpoints_completed_total"); n < float64(list.Latest.ID) {
		t.Fatalf("eddy_job_checkpoints_completed_total is %v after checkpoint %d completed", n, list.Latest.ID)
	}
	if v := series("eddy_job_checkpoint_bytes"); v <= 0 {
		t.Fatalf("eddy_job_checkpoint_bytes is %v", v)
	}
	if d, p := series("eddy_job_checkpoint_duration_seconds"), series("eddy_job_checkpoint_max_pause_seconds"); d <= 0 || p < 0 || p > d {
		t.Fatalf("eddy_job_checkpoint_duration_seconds %v, eddy_job_checkpoint_max_pause_seconds %v", d, p)
	}
	if ts := series("eddy_job_last_checkpoint_timestamp_seconds"); ts < float64(list.Latest.Triggered.UnixNano())/1e9 || ts > float64(time.Now().Unix()+1) {
		t.Fatalf("eddy_job_last_checkpoint_timestamp_seconds is %v; checkpoint %d was triggered at %v", ts, list.Latest.ID, list.Latest.Triggered)
	}

	// A stopped job still shows the checkpoints a restart would resume from.
	c.json("POST", "/v1/jobs/counts/stop", "", 200, nil)
	var after wire.ListCheckpointsResponse
	c.json("GET", "/v1/jobs/counts/checkpoints", "", 200, &after)
	if after.Latest == nil || after.Latest.ID < list.Latest.ID {
		t.Fatalf("after stop: %+v, before: %+v", after.Latest, list.Latest)
	}
}

// A server without a jobs manager has no job endpoints.
func TestJobEndpointsNeedAManager(t *testing.T) {
	c := newCaller(t, servertest.Start(t))
	wantError(t, c.do("GET", "/v1/jobs", ""), 404, "UnknownEndpoint")
}

// waitUntil calls cond until it returns "", failing the test with its last answer
// after 20 seconds.
func waitUntil(t *testing.T, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("after 20s: " + msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// sumSeries adds the values of the series whose line starts with prefix.
func sumSeries(t *testing.T, metrics, prefix string) float64 {
	t.Helper()
	var sum float64
	value := regexp.MustCompile(`\} (\S+)$`)
	for _, l := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		m := value.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("metric line %q has no value", l)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		sum += v
	}
	return sum
}
