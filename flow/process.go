package flow

import (
	"github.com/eddy-streams/eddy/internal/engine"
)

// TimeDomain says which clock a timer follows.
type TimeDomain uint8

const (
	// EventTime timers fire when the watermark passes them.
	EventTime TimeDomain = iota
	// ProcessingTime timers fire when the wall clock passes them.
	ProcessingTime
)

// KeyedProcessor is a keyed process function: Element sees each record with its key's
// state; Timer sees each timer the function set for a key, when it fires.
type KeyedProcessor[K comparable, In, Out any] struct {
	Element func(ctx *ProcessContext[K, Out], v In)
	Timer   func(ctx *ProcessContext[K, Out], t int64, domain TimeDomain)
	// End, if set, runs once per subtask when its input is exhausted.
	End func(ctx *ProcessContext[K, Out])
}

// ProcessOptions configure a keyed operator.
type ProcessOptions struct {
	// Parallelism overrides the job's default parallelism.
	Parallelism int
}

// Process runs a keyed process function. open is called once per subtask when the job
// starts: it declares state on the runtime and returns the function.
func Process[K comparable, In, Out any](ks *KeyedStream[K, In], name string, open func(rt *Runtime[K]) KeyedProcessor[K, In, Out], opts ...ProcessOptions) *Stream[Out] {
	var o ProcessOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	key := ks.key
	return keyedVertex(ks, name, o.Parallelism, func(sub *subtask, out collector[Out]) collector[In] {
		op := newProcessOp[K, In, Out](sub, out)
		op.key = key
		op.fn = open(op.rt)
		return op
	})
}

// processOp runs a KeyedProcessor in one subtask. It is a deterministic state machine:
// records, watermarks and processing-time ticks in, emitted records and timers out.
type processOp[K comparable, In, Out any] struct {
	sub    *subtask
	rt     *Runtime[K]
	key    func(In) K
	fn     KeyedProcessor[K, In, Out]
	out    collector[Out]
	ctx    keyedCtx[K, Out]
	eventT engine.Timers[K]
	procT  engine.Timers[K]
	wm     int64
}

// keyedCtx is the state behind a Context.
type keyedCtx[K comparable, Out any] struct {
	rt        *Runtime[K]
	sub       *subtask
	out       collector[Out]
	ts        int64
	eventT    *engine.Timers[K]
	procT     *engine.Timers[K]
	watermark *int64
}

func newProcessOp[K comparable, In, Out any](sub *subtask, out collector[Out]) *processOp[K, In, Out] {
	op := &processOp[K, In, Out]{sub: sub, out: out, wm: engine.MinWatermark}
	op.rt = &Runtime[K]{clock: sub.clock(), Subtask: sub.index, Parallelism: sub.parallelism}
	op.ctx = keyedCtx[K, Out]{rt: op.rt, sub: sub, out: out, eventT: &op.eventT, procT: &op.procT, watermark: &op.wm}
	sub.onTime = append(sub.onTime, op.processingTime)
	return op
}

func (op *processOp[K, In, Out]) context(ts int64) *ProcessContext[K, Out] {
	op.ctx.ts = ts
	return (*ProcessContext[K, Out])(&op.ctx)
}

func (op *processOp[K, In, Out]) record(v In, ts int64) {
	op.rt.key = op.key(v)
	if op.fn.Element != nil {
		op.fn.Element(op.context(ts), v)
	}
}

func (op *processOp[K, In, Out]) watermark(wm int64) {
	if wm <= op.wm {
		return
	}
	op.wm = wm
	for {
		k, t, ok := op.eventT.Next(wm)
		if !ok {
			break
		}
		op.rt.key = k
		if op.fn.Timer != nil {
			op.fn.Timer(op.context(t), t, EventTime)
		}
	}
	op.out.watermark(wm)
	op.sub.sideWatermark(wm)
}

func (op *processOp[K, In, Out]) processingTime(now int64) {
	for {
		k, t, ok := op.procT.Next(now)
		if !ok {
			return
		}
		op.rt.key = k
		if op.fn.Timer != nil {
			op.fn.Timer(op.context(t), t, ProcessingTime)
		}
	}
}

func (op *processOp[K, In, Out]) idle() { op.out.idle() }

func (op *processOp[K, In, Out]) end() {
	if op.fn.End != nil {
		op.fn.End(op.context(op.wm))
	}
	op.out.end()
	op.sub.sideEnd()
}

// ProcessContext is what a keyed process function sees for one record or timer.
type ProcessContext[K comparable, Out any] keyedCtx[K, Out]

// Key is the key of the record or timer being processed.
func (c *ProcessContext[K, Out]) Key() K { return c.rt.key }

// Timestamp is the event time of the record, or the time of the timer, being processed.
func (c *ProcessContext[K, Out]) Timestamp() int64 { return c.ts }

// Watermark is the operator's current event time.
func (c *ProcessContext[K, Out]) Watermark() int64 { return *c.watermark }

// ProcessingTime is the current wall-clock time in Unix milliseconds.
func (c *ProcessContext[K, Out]) ProcessingTime() int64 { return c.rt.clock.NowMillis() }

// Emit sends v downstream with the current timestamp.
func (c *ProcessContext[K, Out]) Emit(v Out) { c.out.record(v, c.ts) }

// EmitAt sends v downstream with event time ts.
func (c *ProcessContext[K, Out]) EmitAt(v Out, ts int64) { c.out.record(v, ts) }

// SetEventTimer fires Timer for the current key when the watermark reaches t.
func (c *ProcessContext[K, Out]) SetEventTimer(t int64) { c.eventT.Register(c.rt.key, t) }

// DeleteEventTimer cancels an event-time timer of the current key.
func (c *ProcessContext[K, Out]) DeleteEventTimer(t int64) { c.eventT.Delete(c.rt.key, t) }

// SetProcessingTimer fires Timer for the current key when the wall clock reaches t.
func (c *ProcessContext[K, Out]) SetProcessingTimer(t int64) { c.procT.Register(c.rt.key, t) }

// DeleteProcessingTimer cancels a processing-time timer of the current key.
func (c *ProcessContext[K, Out]) DeleteProcessingTimer(t int64) { c.procT.Delete(c.rt.key, t) }

func (c *ProcessContext[K, Out]) emitTarget() (*subtask, int64) { return c.sub, c.ts }
