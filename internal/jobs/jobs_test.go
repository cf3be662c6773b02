package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/jobs"
	"github.com/eddy-streams/eddy/internal/streams"
	"github.com/eddy-streams/eddy/internal/streams/streamstest"
)

func TestWindowCountJobRunsAndStops(t *testing.T) {
	ctx := context.Background()
	svc := streamstest.Start(t, streams.Options{})
	m := jobs.NewManager(jobs.Env{Streams: svc, Logger: slog.New(slog.DiscardHandler)}, jobs.Builtins()...)
	defer m.Close(5 * time.Second)
	if _, err := svc.Create(ctx, "clicks", streams.Config{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Start("counts", "window-count", map[string]string{"from": "clicks"})
	if apierr.CodeOf(err) != "MissingArgument" {
		t.Fatalf("missing argument: %v", err)
	}
	_, err = m.Start("counts", "window-count", map[string]string{"from": "clicks", "to": "x", "bogus": "1"})
	if apierr.CodeOf(err) != "UnknownArgument" {
		t.Fatalf("unknown argument: %v", err)
	}
	if _, err := m.Start("counts", "window-count", map[string]string{"from": "clicks", "to": "click-counts", "window": "200ms", "start": "TRIM_HORIZON"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start("counts", "window-count", map[string]string{"from": "clicks", "to": "click-counts"}); apierr.CodeOf(err) != "JobExists" {
		t.Fatalf("second start: %v", err)
	}
	put := func(keys ...string) {
		var recs []streams.Record
		for _, k := range keys {
			recs = append(recs, streams.Record{PartitionKey: k, Data: []byte("x")})
		}
		if _, err := svc.Put(ctx, "clicks", recs); err != nil {
			t.Fatal(err)
		}
	}
	put("a", "a", "b")
	deadline := time.Now().Add(20 * time.Second)
	var counts []map[string]any
	for len(counts) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no window results after 20s: %+v", m.List())
		}
		time.Sleep(250 * time.Millisecond)
		put("c") // later records move the watermark past the first window
		counts = nil
		it, err := svc.NewIterator(ctx, "click-counts", "", streams.Start{Kind: streams.TrimHorizon})
		if err != nil {
			continue
		}
		recs, _, _ := it.Next(ctx, 100, 0)
		for _, r := range recs {
			var c map[string]any
			if err := json.Unmarshal(r.Data, &c); err != nil {
				t.Fatal(err)
			}
			if c["key"] != "c" {
				counts = append(counts, c)
			}
		}
	}
	byKey := map[any]float64{}
	for _, c := range counts {
		byKey[c["key"]] += c["count"].(float64)
	}
	if byKey["a"] != 2 || byKey["b"] != 1 {
		t.Fatalf("counts %v", counts)
	}
	info, err := m.Stop(ctx, "counts")
	if err != nil || info.Status.State != flow.JobCanceled {
		t.Fatalf("stop: %v %s", err, info.Status.State)
	}
	if len(info.Status.Operators) != 2 || info.Status.Operators[0].Subtasks[0].RecordsIn == 0 {
		t.Fatalf("status %+v", info.Status)
	}
}

func TestSavepointStopAndRescale(t *testing.T) {
	ctx := context.Background()
	svc := streamstest.Start(t, streams.Options{})
	m := jobs.NewManager(jobs.Env{Streams: svc, Logger: slog.New(slog.DiscardHandler), Checkpoints: flow.NewMemStore(), CheckpointInterval: time.Hour}, jobs.Builtins()...)
	defer m.Close(5 * time.Second)
	if _, err := svc.Create(ctx, "taps", streams.Config{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	put := func(n int) {
		var recs []streams.Record
		for i := 0; i < n; i++ {
			recs = append(recs, streams.Record{PartitionKey: fmt.Sprintf("card-%d", i%5), Data: []byte("tap")})
		}
		if _, err := svc.Put(ctx, "taps", recs); err != nil {
			t.Fatal(err)
		}
	}
	args := map[string]string{"from": "taps", "to": "tap-counts", "parallelism": "2"}
	if _, err := m.Start("counter", "running-count", args); err != nil {
		t.Fatal(err)
	}
	put(100)
	time.Sleep(200 * time.Millisecond) // let the job read them before the savepoint
	path, err := m.Savepoint(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stop(ctx, "counter"); err != nil {
		t.Fatal(err)
	}
	put(100)
	args["parallelism"] = "3"
	if _, err := m.StartFrom("counter", "running-count", args, path); err != nil {
		t.Fatal(err)
	}
	// The restarted job sees no checkpoint for an hour: a savepoint makes its output visible.
	var perKey map[string][]int
	deadline := time.Now().Add(20 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		if _, err := m.Savepoint(ctx, "counter"); err != nil {
			t.Fatal(err)
		}
		perKey = map[string][]int{}
		it, _ := svc.NewIterator(ctx, "tap-counts", "", streams.Start{Kind: streams.TrimHorizon})
		recs, _, _ := it.Next(ctx, 1000, 0)
		for _, r := range recs {
			var key string
			var n int
			fmt.Sscanf(string(r.Data), "%s %d", &key, &n)
			perKey[key] = append(perKey[key], n)
		}
		if len(recs) >= 200 || time.Now().After(deadline) {
			break
		}
	}
	for key, counts := range perKey {
		slices.Sort(counts)
		for i, n := range counts {
			if n != i+1 {
				t.Fatalf("%s: counts %v", key, counts)
			}
		}
		if len(counts) != 40 {
			t.Fatalf("%s: %d counts, want 40", key, len(counts))
		}
	}
	if len(perKey) != 5 {
		t.Fatalf("keys %v", perKey)
	}
}

func TestFailedJobRestartsFromItsCheckpoint(t *testing.T) {
	svc := streamstest.Start(t, streams.Options{})
	var runs atomic.Int32
	flaky := jobs.Builtin{
		Name: "flaky",
		Build: func(env jobs.Env, _ map[string]string) (*flow.Job, error) {
			run := runs.Add(1)
			job := flow.NewJob(env.JobName, env.JobOptions(1))
			src := flow.FromGenerator(job, "gen", 1, func(int, int) func(*int) bool {
				i := 0
				return func(v *int) bool {
					i++
					*v = i
					if run == 1 && i == 500 {
						panic("disk on fire")
					}
					time.Sleep(time.Millisecond)
					return i <= 1000
				}
			}, flow.SourceOptions[int]{})
			flow.Sink(src, "sink", func(int, int64) error { return nil })
			return job, nil
		},
	}
	m := jobs.NewManager(jobs.Env{Streams: svc, Logger: slog.New(slog.DiscardHandler), Checkpoints: flow.NewMemStore(), CheckpointInterval: 20 * time.Millisecond,
		Restart: jobs.RestartStrategy{Kind: "fixed-delay", Delay: 10 * time.Millisecond, MaxAttempts: 3}}, flaky)
	defer m.Close(5 * time.Second)
	if _, err := m.Start("flaky", "flaky", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, _ := m.Describe("flaky")
		if info.Status.State == flow.JobFinished {
			if info.Restarts != 1 || runs.Load() != 2 {
				t.Fatalf("finished after %d restarts and %d builds", info.Restarts, runs.Load())
			}
			// The second run resumed from a checkpoint of the first, not from the start.
			if in := info.Status.Operators[0].Subtasks[0].RecordsIn; in >= 1000 {
				t.Fatalf("the restarted run read %d records: it did not resume", in)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job did not finish after a restart: %+v", info.Status.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
