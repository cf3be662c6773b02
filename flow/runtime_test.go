package flow_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddy-streams/eddy/flow"
)

// endless is a generator source that never ends, counting what it produced.
func endless(produced *atomic.Int64) func(int, int) func(*event) bool {
	return func(sub, par int) func(*event) bool {
		i := 0
		return func(e *event) bool {
			i++
			produced.Add(1)
			*e = event{Key: string(rune('a' + i%7)), Value: i, Time: int64(i)}
			return true
		}
	}
}

func TestCancelStopsEverySubtask(t *testing.T) {
	defer goleak.VerifyNone(t)
	var produced, consumed atomic.Int64
	job := flow.NewJob("endless", flow.JobOptions{Parallelism: 2})
	src := flow.FromGenerator(job, "gen", 2, endless(&produced), flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.Monotonous()})
	counts := flow.WindowAggregate(flow.KeyBy(src, func(e event) string { return e.Key }), "count", flow.Tumbling(time.Second), flow.Count[event]())
	flow.Sink(counts, "sink", func(flow.WindowResult[string, int64], int64) error { consumed.Add(1); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- flow.Run(ctx, job) }()
	for consumed.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestFailureAndPanicStopTheJob(t *testing.T) {
	defer goleak.VerifyNone(t)
	var produced atomic.Int64
	job := flow.NewJob("fails")
	src := flow.FromGenerator(job, "gen", 1, endless(&produced), flow.SourceOptions[event]{})
	boom := errors.New("disk on fire")
	flow.Sink(flow.KeyBy(src, func(e event) string { return e.Key }).Stream(), "sink", func(e event, _ int64) error {
		if e.Value == 5000 {
			return boom
		}
		return nil
	})
	if err := flow.Run(context.Background(), job); !errors.Is(err, boom) {
		t.Fatalf("Run: %v", err)
	}

	job = flow.NewJob("panics")
	src = flow.FromGenerator(job, "gen", 1, endless(&produced), flow.SourceOptions[event]{})
	flow.Sink(flow.Map(src, "div", func(e event) event { e.Value = 1 / (e.Value - 77); return e }), "sink", func(event, int64) error { return nil })
	if err := flow.Run(context.Background(), job); err == nil || !strings.Contains(err.Error(), "divide by zero") {
		t.Fatalf("Run: %v", err)
	}
}

func TestBackpressureBoundsRecordsInFlight(t *testing.T) {
	defer goleak.VerifyNone(t)
	var produced, consumed atomic.Int64
	release := make(chan struct{})
	const batch, capacity = 64, 4
	job := flow.NewJob("slow-sink", flow.JobOptions{BatchSize: batch, ChannelCapacity: capacity})
	src := flow.FromGenerator(job, "gen", 1, endless(&produced), flow.SourceOptions[event]{})
	keyed := flow.Process(flow.KeyBy(src, func(e event) string { return e.Key }), "pass", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, event] {
		return flow.KeyedProcessor[string, event, event]{Element: func(ctx *flow.ProcessContext[string, event], e event) { ctx.Emit(e) }}
	})
	flow.Sink(keyed, "slow", func(event, int64) error {
		if consumed.Add(1) == 100 {
			<-release // the sink stalls: everything upstream must stop
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- flow.Run(ctx, job) }()
	// Wait until the source stops producing.
	last := int64(-1)
	for p := produced.Load(); p != last; p = produced.Load() {
		last = p
		time.Sleep(20 * time.Millisecond)
	}
	// In flight at most: the channel's batches, the writer's buffer, the batch the
	// stalled subtask holds, and the record the source is handing over.
	if inFlight := produced.Load() - consumed.Load(); inFlight > (capacity+2)*batch+1 {
		t.Fatalf("%d records in flight behind a stalled sink; the bound is %d", inFlight, (capacity+2)*batch+1)
	}
	close(release)
	cancel()
	<-done
}

func TestStatusReportsGraphAndCounts(t *testing.T) {
	var in []event
	for i := 0; i < 5000; i++ {
		in = append(in, event{Key: string(rune('a' + i%10)), Value: i, Time: int64(i)})
	}
	job := flow.NewJob("status", flow.JobOptions{Parallelism: 2})
	src := flow.FromSlice(job, "events", in, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.Monotonous()})
	odd := flow.Filter(src, "odd", func(e event) bool { return e.Value%2 == 1 })
	sums := flow.WindowAggregate(flow.KeyBy(odd, func(e event) string { return e.Key }), "sum", flow.Tumbling(time.Second), flow.Count[event]())
	flow.Collect(sums)
	if st := job.Status(); st.State != flow.JobCreated {
		t.Fatalf("before Run: %s", st.State)
	}
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	st := job.Status()
	if st.State != flow.JobFinished || len(st.Operators) != 2 || len(st.Edges) != 1 || st.Edges[0].Partitioning != "hash" {
		t.Fatalf("status %+v", st)
	}
	srcOp, winOp := st.Operators[0], st.Operators[1]
	if srcOp.Subtasks[0].RecordsIn != 5000 || srcOp.Subtasks[0].RecordsOut != 2500 {
		t.Fatalf("source in %d out %d", srcOp.Subtasks[0].RecordsIn, srcOp.Subtasks[0].RecordsOut)
	}
	var in2, out2 int64
	for _, s := range winOp.Subtasks {
		in2 += s.RecordsIn
		out2 += s.RecordsOut
		if s.Watermark != math.MaxInt64 {
			t.Fatalf("window subtask ended at watermark %d", s.Watermark)
		}
	}
	if in2 != 2500 || out2 != 25 || !slices.Equal(srcOp.Chained, []string{"odd"}) {
		t.Fatalf("windows in %d out %d, chained %v", in2, out2, srcOp.Chained)
	}
}

// trickle emits a few records and then waits for more that never come.
type trickle struct{ n int }

func (s trickle) Run(ctx context.Context, _, _ int, out flow.SourceOutput[event]) error {
	for i := 0; i < s.n; i++ {
		out.Emit(event{Key: "truck-7", Value: i}, flow.NoTimestamp)
	}
	for ctx.Err() == nil {
		out.Poll()
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func TestBufferTimeoutDeliversAQuietStream(t *testing.T) {
	defer goleak.VerifyNone(t)
	job := flow.NewJob("quiet", flow.JobOptions{BufferTimeout: 20 * time.Millisecond})
	src := flow.FromSource[event](job, "gps", 1, trickle{n: 3})
	var got atomic.Int64
	flow.Sink(flow.KeyBy(src, func(e event) string { return e.Key }).Stream(), "dashboard", func(event, int64) error {
		got.Add(1)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	deadline := time.Now().Add(10 * time.Second)
	for got.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 3 records reached the sink: partly filled batches are not sent", got.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}
