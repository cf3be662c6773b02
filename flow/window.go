package flow

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// Window is a span of time [Start, End) in Unix milliseconds.
type Window struct {
	Start, End int64
}

// MaxTimestamp is the last millisecond that belongs to the window; a window's result
// carries it as its event time.
func (w Window) MaxTimestamp() int64 { return w.End - 1 }

// intersects reports whether two session windows touch or overlap and so merge.
func (w Window) intersects(o Window) bool { return w.Start <= o.End && o.Start <= w.End }

// WindowAssigner decides which windows a record belongs to.
type WindowAssigner struct {
	kind           windowKind
	size, slide    int64
	gap            int64
	processingTime bool
	trigger        Trigger
}

type windowKind uint8

const (
	tumbling windowKind = iota + 1
	sliding
	session
	global
)

// Tumbling windows of a fixed size, aligned to the Unix epoch, do not overlap.
func Tumbling(size time.Duration) WindowAssigner {
	return WindowAssigner{kind: tumbling, size: size.Milliseconds(), slide: size.Milliseconds()}
}

// Sliding (hopping) windows of a fixed size start every slide; a record belongs to
// size/slide of them.
func Sliding(size, slide time.Duration) WindowAssigner {
	return WindowAssigner{kind: sliding, size: size.Milliseconds(), slide: slide.Milliseconds()}
}

// Session windows group a key's records separated by less than gap; they grow and merge
// as records arrive.
func Session(gap time.Duration) WindowAssigner {
	return WindowAssigner{kind: session, gap: gap.Milliseconds()}
}

// Global puts every record of a key in one window that never ends; trigger decides when
// it emits a result.
func Global(trigger Trigger) WindowAssigner {
	return WindowAssigner{kind: global, trigger: trigger}
}

// InProcessingTime makes the windows follow the wall clock at arrival instead of event
// time. Processing-time windows never see late records; when a bounded input ends, the
// windows still open fire.
func (a WindowAssigner) InProcessingTime() WindowAssigner {
	a.processingTime = true
	return a
}

func (a WindowAssigner) validate() error {
	switch a.kind {
	case tumbling, sliding:
		if a.size <= 0 || a.slide <= 0 {
			return errors.New("window size and slide must be at least 1 ms")
		}
		if a.size%a.slide != 0 {
			return fmt.Errorf("sliding window size %d ms is not a multiple of its slide %d ms", a.size, a.slide)
		}
	case session:
		if a.gap <= 0 {
			return errors.New("session gap must be at least 1 ms")
		}
	case global:
		if a.trigger.OnElement == nil {
			return errors.New("a global window needs a trigger")
		}
	default:
		return errors.New("unknown window assigner")
	}
	return nil
}

// assign appends the windows of time t, oldest first.
func (a WindowAssigner) assign(t int64, ws []Window) []Window {
	switch a.kind {
	case tumbling, sliding:
		last := t - mod(t, a.slide)
		for start := last; start > t-a.size; start -= a.slide {
			ws = append(ws, Window{start, start + a.size})
		}
		slices.Reverse(ws)
	case session:
		ws = append(ws, Window{t, t + a.gap})
	case global:
		ws = append(ws, Window{math.MinInt64, math.MaxInt64})
	}
	return ws
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// Trigger decides when a global window emits.
type Trigger struct {
	// OnElement runs after a record joined window w, which now holds count records.
	OnElement func(w Window, count int64) TriggerAction
}

// TriggerAction is what a trigger asks for.
type TriggerAction uint8

const (
	// Continue waits for more records.
	Continue TriggerAction = iota
	// Fire emits the window's result and keeps its contents.
	Fire
	// FireAndPurge emits the result and empties the window.
	FireAndPurge
)

// CountTrigger fires and empties the window every n records.
func CountTrigger(n int64) Trigger {
	return Trigger{OnElement: func(_ Window, count int64) TriggerAction {
		if count >= n {
			return FireAndPurge
		}
		return Continue
	}}
}

// WindowOptions configure a window operator.
type WindowOptions[In any] struct {
	// AllowedLateness keeps a window's contents for this long after it fired: a record
	// that arrives within it updates the result, which is emitted again.
	AllowedLateness time.Duration
	// LateData, if declared, receives the records that arrived after their windows were
	// cleaned up. Otherwise they are dropped and counted.
	LateData SideOutput[In]
	// Parallelism overrides the job's default parallelism.
	Parallelism int
}

// WindowResult is an aggregate of one key's window.
type WindowResult[K comparable, V any] struct {
	Key    K
	Window Window
	Value  V
}

// WindowAggregate aggregates each key's windows incrementally: it keeps one accumulator
// per window, not the records. Results carry the window's MaxTimestamp as event time.
func WindowAggregate[K comparable, In, Acc, Out any](ks *KeyedStream[K, In], name string, w WindowAssigner, agg Aggregate[In, Acc, Out], opts ...WindowOptions[In]) *Stream[WindowResult[K, Out]] {
	return windowOperator(ks, name, w, windowLogic[K, In, Acc, WindowResult[K, Out]]{
		init:  agg.Init,
		add:   agg.Add,
		merge: agg.Merge,
		fire: func(k K, win Window, acc Acc, emit func(WindowResult[K, Out])) {
			emit(WindowResult[K, Out]{Key: k, Window: win, Value: agg.Result(acc)})
		},
	}, opts)
}

// WindowProcess hands each key's window, with all its records in arrival order, to fn
// when the window fires. It keeps every record of an open window; prefer WindowAggregate
// when an accumulator will do.
func WindowProcess[K comparable, In, Out any](ks *KeyedStream[K, In], name string, w WindowAssigner, fn func(key K, w Window, records []In, emit func(Out)), opts ...WindowOptions[In]) *Stream[Out] {
	return windowOperator(ks, name, w, windowLogic[K, In, []In, Out]{
		init:  func() []In { return nil },
		add:   func(acc []In, in In) []In { return append(acc, in) },
		merge: func(a, b []In) []In { return append(a, b...) },
		fire:  fn,
	}, opts)
}

// windowLogic is what distinguishes an aggregating window from a processing one.
type windowLogic[K comparable, In, Acc, Out any] struct {
	init  func() Acc
	add   func(Acc, In) Acc
	merge func(a, b Acc) Acc
	fire  func(key K, w Window, acc Acc, emit func(Out))
}

func windowOperator[K comparable, In, Acc, Out any](ks *KeyedStream[K, In], name string, w WindowAssigner, logic windowLogic[K, In, Acc, Out], opts []WindowOptions[In]) *Stream[Out] {
	var o WindowOptions[In]
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := w.validate(); err != nil {
		ks.in.job.fail(fmt.Errorf("window %s: %w", name, err))
	}
	if w.kind == session && logic.merge == nil {
		ks.in.job.fail(fmt.Errorf("window %s: session windows need an aggregate with Merge", name))
	}
	out := keyedVertex(ks, name, o.Parallelism, func(sub *subtask, out collector[Out]) collector[In] {
		op := newWindowOp(w, logic, o, ks.key, out, sub.clock())
		op.sub = sub
		op.keyGroup = keyGroupFunc(ks.hash, sub.run.job.opts.MaxParallelism)
		sub.addSnapshotter("windows", op)
		sub.stateSizes = append(sub.stateSizes, func() int { return len(op.state) })
		if c, ok := sub.sides[o.LateData.name].(collector[In]); ok && o.LateData.name != "" {
			op.late = c
		}
		if w.processingTime {
			sub.onTime = append(sub.onTime, op.processingTime)
		}
		return op
	})
	return out
}

type winKey[K comparable] struct {
	key K
	w   Window
}

type winState[Acc any] struct {
	acc   Acc
	count int64
}

// windowOp is the window operator of one subtask, a deterministic state machine: records,
// watermarks and processing-time ticks in; results, late records and timers out.
type windowOp[K comparable, In, Acc, Out any] struct {
	assigner  WindowAssigner
	logic     windowLogic[K, In, Acc, Out]
	lateness  int64
	keyOf     func(In) K
	out       collector[Out]
	clock     Clock
	sub       *subtask
	late      collector[In]
	state     map[winKey[K]]*winState[Acc]
	sessions  map[K][]Window // open session windows per key, sorted by start
	timers    engine.Timers[winKey[K]]
	wm        int64
	scratch   []Window
	emitTS    int64
	emitFn    func(Out)
	lateCount int64
	keyGroup  func(K) int
}

func newWindowOp[K comparable, In, Acc, Out any](a WindowAssigner, logic windowLogic[K, In, Acc, Out], o WindowOptions[In], keyOf func(In) K, out collector[Out], clock Clock) *windowOp[K, In, Acc, Out] {
	op := &windowOp[K, In, Acc, Out]{
		assigner: a, logic: logic, lateness: o.AllowedLateness.Milliseconds(), keyOf: keyOf, out: out, clock: clock,
		state: map[winKey[K]]*winState[Acc]{}, sessions: map[K][]Window{}, wm: engine.MinWatermark,
	}
	if a.processingTime {
		op.lateness = 0
	}
	op.emitFn = func(v Out) { op.out.record(v, op.emitTS) }
	return op
}

func (op *windowOp[K, In, Acc, Out]) now() int64 {
	if op.assigner.processingTime {
		return op.clock.NowMillis()
	}
	return op.wm
}

func (op *windowOp[K, In, Acc, Out]) record(v In, ts int64) {
	k := op.keyOf(v)
	if op.assigner.processingTime {
		ts = op.clock.NowMillis()
	} else if ts == NoTimestamp {
		panic(failure{fmt.Errorf("an event-time window got a record without event time: set SourceOptions.Timestamp")})
	}
	if op.assigner.kind == session {
		op.addToSession(k, v, ts)
		return
	}
	skipped := true
	op.scratch = op.assigner.assign(ts, op.scratch[:0])
	for _, w := range op.scratch {
		if op.isLate(w) {
			continue
		}
		skipped = false
		wk := winKey[K]{k, w}
		st := op.state[wk]
		if st == nil {
			st = &winState[Acc]{acc: op.logic.init()}
			op.state[wk] = st
			op.registerTimers(wk)
		}
		st.acc = op.logic.add(st.acc, v)
		st.count++
		if op.assigner.kind == global {
			switch op.assigner.trigger.OnElement(w, st.count) {
			case Fire:
				op.fire(wk, st)
			case FireAndPurge:
				op.fire(wk, st)
				delete(op.state, wk)
			}
			continue
		}
		if w.MaxTimestamp() <= op.now() {
			// A late record inside the allowed lateness: emit the updated result.
			op.fire(wk, st)
		}
	}
	if skipped {
		op.dropLate(v, ts)
	}
}

// isLate says window w was already cleaned up: its end plus the allowed lateness has
// passed.
func (op *windowOp[K, In, Acc, Out]) isLate(w Window) bool {
	if op.assigner.kind == global || op.assigner.processingTime {
		return false
	}
	return w.MaxTimestamp()+op.lateness <= op.wm
}

func (op *windowOp[K, In, Acc, Out]) dropLate(v In, ts int64) {
	if op.late != nil {
		op.late.record(v, ts)
		return
	}
	op.lateCount++
}

func (op *windowOp[K, In, Acc, Out]) registerTimers(wk winKey[K]) {
	if op.assigner.kind == global {
		return
	}
	op.timers.Register(wk, wk.w.MaxTimestamp())
	if op.lateness > 0 {
		op.timers.Register(wk, wk.w.MaxTimestamp()+op.lateness)
	}
}

func (op *windowOp[K, In, Acc, Out]) deleteTimers(wk winKey[K]) {
	op.timers.Delete(wk, wk.w.MaxTimestamp())
	op.timers.Delete(wk, wk.w.MaxTimestamp()+op.lateness)
}

// addToSession puts a record in its key's session window, merging every open window the
// new one touches.
func (op *windowOp[K, In, Acc, Out]) addToSession(k K, v In, ts int64) {
	merged := Window{ts, ts + op.assigner.gap}
	open := op.sessions[k]
	keep := open[:0:0]
	var absorbed []Window
	for _, w := range open {
		if w.intersects(merged) {
			absorbed = append(absorbed, w)
			merged = Window{min(merged.Start, w.Start), max(merged.End, w.End)}
		} else {
			keep = append(keep, w)
		}
	}
	if op.isLate(merged) {
		op.dropLate(v, ts)
		return
	}
	st := &winState[Acc]{acc: op.logic.init()}
	for _, w := range absorbed {
		wk := winKey[K]{k, w}
		if old := op.state[wk]; old != nil {
			st.acc = op.logic.merge(st.acc, old.acc)
			st.count += old.count
			delete(op.state, wk)
		}
		op.deleteTimers(wk)
	}
	st.acc = op.logic.add(st.acc, v)
	st.count++
	wk := winKey[K]{k, merged}
	op.state[wk] = st
	keep = append(keep, merged)
	slices.SortFunc(keep, func(a, b Window) int { return cmp.Compare(a.Start, b.Start) })
	op.sessions[k] = keep
	op.registerTimers(wk)
	if merged.MaxTimestamp() <= op.now() {
		op.fire(wk, st)
	}
}

func (op *windowOp[K, In, Acc, Out]) fire(wk winKey[K], st *winState[Acc]) {
	op.emitTS = wk.w.MaxTimestamp()
	op.logic.fire(wk.key, wk.w, st.acc, op.emitFn)
}

// onTimer fires or cleans up the window a timer belongs to.
func (op *windowOp[K, In, Acc, Out]) onTimer(wk winKey[K], t int64) {
	st := op.state[wk]
	if st == nil {
		return
	}
	if t == wk.w.MaxTimestamp() {
		op.fire(wk, st)
	}
	if t == wk.w.MaxTimestamp()+op.lateness {
		delete(op.state, wk)
		if op.assigner.kind == session {
			open := op.sessions[wk.key]
			if i := slices.Index(open, wk.w); i >= 0 {
				open = slices.Delete(open, i, i+1)
			}
			if len(open) == 0 {
				delete(op.sessions, wk.key)
			} else {
				op.sessions[wk.key] = open
			}
		}
	}
}

func (op *windowOp[K, In, Acc, Out]) advance(now int64) {
	for {
		wk, t, ok := op.timers.Next(now)
		if !ok {
			return
		}
		op.onTimer(wk, t)
	}
}

func (op *windowOp[K, In, Acc, Out]) watermark(wm int64) {
	if wm <= op.wm {
		return
	}
	op.wm = wm
	if !op.assigner.processingTime {
		op.advance(wm)
	}
	op.out.watermark(wm)
	op.sub.sideWatermark(wm)
}

func (op *windowOp[K, In, Acc, Out]) processingTime(now int64) { op.advance(now) }

func (op *windowOp[K, In, Acc, Out]) idle() { op.out.idle() }

func (op *windowOp[K, In, Acc, Out]) barrier(id int64) {
	op.out.barrier(id)
	op.sub.sideBarrier(id)
}

func (op *windowOp[K, In, Acc, Out]) end() {
	if op.assigner.processingTime {
		op.advance(math.MaxInt64)
	}
	op.out.end()
	op.sub.sideEnd()
}
