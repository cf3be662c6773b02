package flow

import (
	"context"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// These tests drive operators as the state machines they are: no goroutines, no
// channels, a clock the test moves.

type fakeClock struct{ now int64 }

func (c *fakeClock) NowMillis() int64 { return c.now }

func testSubtask(clock Clock) *subtask {
	return testSubtaskWith(clock, HeapBackend())
}

func testSubtaskWith(clock Clock, backend StateBackend) *subtask {
	j := NewJob("test", JobOptions{Clock: clock, StateBackend: backend})
	return &subtask{run: &run{job: j, ctx: context.Background(), done: make(chan struct{})}, parallelism: 1}
}

// closeRun releases what the subtask's run holds, such as Pebble stores.
func closeRun(sub *subtask) {
	for _, f := range sub.run.closers {
		f()
	}
}

// eachBackend runs a state-machine test against every state backend.
func eachBackend(t *testing.T, test func(t *testing.T, backend StateBackend)) {
	for _, b := range []StateBackend{HeapBackend(), PebbleBackend(t.TempDir())} {
		t.Run(b.String(), func(t *testing.T) { test(t, b) })
	}
}

// recorder is a collector that remembers what reached it.
type recorder[T any] struct {
	records []Timestamped[T]
	wms     []int64
	ended   bool
}

func (r *recorder[T]) record(v T, ts int64) { r.records = append(r.records, Timestamped[T]{v, ts}) }
func (r *recorder[T]) watermark(wm int64)   { r.wms = append(r.wms, wm) }
func (r *recorder[T]) idle()                {}
func (r *recorder[T]) end()                 { r.ended = true }
func (r *recorder[T]) barrier(int64)        {}

func (r *recorder[T]) values() []T {
	var out []T
	for _, x := range r.records {
		out = append(out, x.Value)
	}
	return out
}

func TestProcessingTimeTimersAndStateTTL(t *testing.T) {
	eachBackend(t, testProcessingTimeTimersAndStateTTL)
}

func testProcessingTimeTimersAndStateTTL(t *testing.T, backend StateBackend) {
	clock := &fakeClock{now: 1000}
	sub := testSubtaskWith(clock, backend)
	defer closeRun(sub)
	out := &recorder[string]{}
	core := newKeyedCore(sub, out, func(k string) uint64 { return uint64(len(k)) })
	seen := NewValueState[int](core.rt, "seen", StateTTL(time.Second))
	op := &processOp[string, string, string]{keyedCore: core, key: func(s string) string { return s },
		element: func(ctx *ProcessContext[string, string], v string) {
			n, _ := seen.Value()
			seen.Update(n + 1)
			ctx.SetProcessingTimer(ctx.ProcessingTime() + 500)
			ctx.Emit(v + "=" + string(rune('0'+n+1)))
		}}
	core.onTimer = func(ctx *ProcessContext[string, string], ts int64, d TimeDomain) {
		if d != ProcessingTime {
			t.Fatalf("timer domain %v", d)
		}
		ctx.Emit("timer " + ctx.Key())
	}
	op.record("a", NoTimestamp)
	op.record("a", NoTimestamp) // same processing-time timer: set once
	clock.now = 1499
	op.processingTime(clock.now)
	if len(out.records) != 2 {
		t.Fatalf("timer fired early: %v", out.values())
	}
	clock.now = 1500
	op.processingTime(clock.now)
	clock.now = 2600 // more than the TTL after the last write
	op.record("a", NoTimestamp)
	want := []string{"a=1", "a=2", "timer a", "a=1"}
	if got := out.values(); len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestLookupJoinSeesLatestRow(t *testing.T) {
	sub := testSubtask(&fakeClock{})
	out := &recorder[string]{}
	core := newKeyedCore(sub, out, func(k string) uint64 { return uint64(len(k)) })
	fn := lookupProcessor[string](func(v string, row int, found bool) (string, bool) {
		if !found {
			return v + ":none", true
		}
		return v + ":" + string(rune('0'+row)), true
	})(core.rt)
	id := func(s string) string { return s }
	main := func(v string) { fn.Element1(core.context(id(v), NoTimestamp), v) }
	table := func(k string, row int) { fn.Element2(core.context(k, NoTimestamp), row) }
	main("EUR")
	table("EUR", 1)
	main("EUR")
	table("EUR", 2)
	main("EUR")
	main("USD")
	got := out.values()
	want := []string{"EUR:none", "EUR:1", "EUR:2", "USD:none"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
}

func TestProcessingTimeWindowFiresOnTheClock(t *testing.T) {
	clock := &fakeClock{now: 10_000}
	sub := testSubtask(clock)
	out := &recorder[WindowResult[string, int64]]{}
	agg := Count[string]()
	op := newWindowOp(Tumbling(10*time.Second).InProcessingTime(), windowLogic[string, string, int64, WindowResult[string, int64]]{
		init: agg.Init, add: agg.Add, merge: agg.Merge,
		fire: func(k string, w Window, acc int64, emit func(WindowResult[string, int64])) {
			emit(WindowResult[string, int64]{k, w, acc})
		},
	}, WindowOptions[string]{}, func(s string) string { return s }, out, clock)
	op.sub = sub
	op.record("a", 1) // event times are ignored
	op.record("a", 999_999)
	clock.now = 19_998
	op.processingTime(clock.now)
	if len(out.records) != 0 {
		t.Fatal("fired before the window's last millisecond")
	}
	clock.now = 19_999
	op.processingTime(clock.now)
	clock.now = 20_000
	op.record("b", 5) // next window
	op.record("a", 7)
	op.end() // a bounded input ends: open windows fire
	got := out.values()
	if len(got) != 3 || got[0].Value != 2 || got[0].Window != (Window{10_000, 20_000}) || got[2].Window != (Window{20_000, 30_000}) {
		t.Fatalf("got %+v", got)
	}
}

func TestAlignmentGivesUpAnAbandonedCheckpoint(t *testing.T) {
	var recs []string
	var barriers []int64
	g := newGate(newSubtaskMetrics(), 2, func(int64) {}, func() {})
	g.onBarrier = func(id int64) { barriers = append(barriers, id) }
	in := attachInput(g, &input[string]{g: g, rec: func(v string, _ int64) { recs = append(recs, v) }})
	msg := func(kind engine.Kind, from int, id int64, v ...string) engine.Message[string] {
		m := engine.Message[string]{Kind: kind, From: from, Checkpoint: id}
		for _, x := range v {
			m.Records = append(m.Records, engine.Record[string]{Value: x})
		}
		return m
	}
	in.handle(msg(engine.Barrier, 0, 5))   // sender 0 aligns checkpoint 5 ...
	in.handle(msg(engine.Data, 0, 0, "a")) // ... so its next records wait
	in.handle(msg(engine.Barrier, 0, 6))   // checkpoint 5 was abandoned; 6 follows
	if len(recs) != 0 {
		t.Fatalf("records of an aligning sender were processed: %v", recs)
	}
	in.handle(msg(engine.Barrier, 1, 6)) // sender 1 never saw checkpoint 5
	if len(barriers) != 1 || barriers[0] != 6 || len(recs) != 1 || recs[0] != "a" {
		t.Fatalf("barriers %v records %v: want checkpoint 6 once, after record a", barriers, recs)
	}
	in.handle(msg(engine.Data, 1, 0, "b"))
	if len(recs) != 2 {
		t.Fatalf("after the alignment: %v", recs)
	}
}

func TestCaptureIsNotChangedByLaterWrites(t *testing.T) {
	eachBackend(t, testCaptureIsNotChangedByLaterWrites)
}

func testCaptureIsNotChangedByLaterWrites(t *testing.T, backend StateBackend) {
	sub := testSubtaskWith(&fakeClock{}, backend)
	defer closeRun(sub)
	core := newKeyedCore(sub, &recorder[string]{}, func(k string) uint64 { return uint64(len(k)) })
	v := NewValueState[int](core.rt, "v")
	m := NewMapState[string, int](core.rt, "m")
	core.context("a", 0)
	v.Update(1)
	m.Put("x", 1)
	core.context("bb", 0)
	v.Update(7)
	v.Clear() // bb's key group now holds an empty map
	encode := core.snapshotState()
	// Writes after the capture, to a captured group, an emptied group and a map value.
	core.context("a", 0)
	v.Update(2)
	m.Put("x", 2)
	core.context("bb", 0)
	v.Update(9)
	// The operator sees its own writes while the snapshot is taken.
	if got, _ := v.Value(); got != 9 {
		t.Fatalf("bb after the capture: %d, want 9", got)
	}
	core.context("a", 0)
	if got, _ := m.Get("x"); got != 2 {
		t.Fatalf("a's map after the capture: %d, want 2", got)
	}
	store := NewMemStore()
	w := &stateWriter{id: 1, ctx: context.Background(), store: store, sharedPrefix: "test/shared/"}
	if err := encode(w); err != nil {
		t.Fatal(err)
	}
	// And after it.
	if got, _ := v.Value(); got != 2 {
		t.Fatalf("a after the snapshot: %d, want 2", got)
	}
	sub2 := testSubtaskWith(&fakeClock{}, backend)
	defer closeRun(sub2)
	restored := newKeyedCore(sub2, &recorder[string]{}, func(k string) uint64 { return uint64(len(k)) })
	rv := NewValueState[int](restored.rt, "v")
	rm := NewMapState[string, int](restored.rt, "m")
	shared := map[string]sharedFile{}
	for _, f := range w.shared {
		shared[f.Name] = f
	}
	r := &stateReader{sections: w.sections, from: make([]int, len(w.sections)), ctx: context.Background(), store: store,
		shared: []map[string]sharedFile{shared}, sharedPrefix: "test/shared/"}
	if err := restored.restoreState(r); err != nil {
		t.Fatal(err)
	}
	restored.context("a", 0)
	if got, _ := rv.Value(); got != 1 {
		t.Fatalf("a: captured %d, want 1", got)
	}
	if got, _ := rm.Get("x"); got != 1 {
		t.Fatalf("a's map: captured %d, want 1", got)
	}
	restored.context("bb", 0)
	if _, ok := rv.Value(); ok {
		t.Fatal("bb was cleared before the capture but the snapshot holds a value")
	}
}
