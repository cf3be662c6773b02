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
	key, hash := ks.key, ks.hash
	return keyedVertex(ks, name, parallelismOf(opts), func(sub *subtask, out collector[Out]) collector[In] {
		core := newKeyedCore(sub, out, hash)
		fn := open(core.rt)
		core.onTimer, core.onEnd = fn.Timer, fn.End
		return &processOp[K, In, Out]{keyedCore: core, key: key, element: fn.Element}
	})
}

func parallelismOf(opts []ProcessOptions) int {
	if len(opts) > 0 {
		return opts[0].Parallelism
	}
	return 0
}

// keyedCore is what every keyed operator with user functions shares: the current key and
// its state, timers, and the watermark. It is a deterministic state machine: records,
// watermarks and processing-time ticks in; emitted records and timer calls out.
type keyedCore[K comparable, Out any] struct {
	sub     *subtask
	rt      *Runtime[K]
	out     collector[Out]
	ctx     keyedCtx[K, Out]
	eventT  engine.Timers[K]
	procT   engine.Timers[K]
	wm      int64
	onTimer func(ctx *ProcessContext[K, Out], t int64, domain TimeDomain)
	onEnd   func(ctx *ProcessContext[K, Out])
}

// keyedCtx is the state behind a ProcessContext.
type keyedCtx[K comparable, Out any] struct {
	rt        *Runtime[K]
	sub       *subtask
	out       collector[Out]
	ts        int64
	eventT    *engine.Timers[K]
	procT     *engine.Timers[K]
	watermark *int64
}

func newKeyedCore[K comparable, Out any](sub *subtask, out collector[Out], hash func(K) uint64) *keyedCore[K, Out] {
	c := &keyedCore[K, Out]{sub: sub, out: out, wm: engine.MinWatermark}
	c.rt = &Runtime[K]{clock: sub.clock(), Subtask: sub.index, Parallelism: sub.parallelism,
		keyGroup: keyGroupFunc(hash, sub.run.job.opts.MaxParallelism), maxParallelism: sub.run.job.opts.MaxParallelism}
	if b, ok := sub.run.job.opts.StateBackend.(pebbleBackend); ok {
		c.rt.kv = sub.openPebble(b.dir)
	}
	sub.addSnapshotter("keyed", c)
	c.ctx = keyedCtx[K, Out]{rt: c.rt, sub: sub, out: out, eventT: &c.eventT, procT: &c.procT, watermark: &c.wm}
	sub.onTime = append(sub.onTime, c.processingTime)
	sub.stateSizes = append(sub.stateSizes, func() int {
		n := c.eventT.Len() + c.procT.Len()
		for _, s := range c.rt.states {
			n += s.entries()
		}
		return n
	})
	return c
}

// context points the context at key k and timestamp ts.
func (c *keyedCore[K, Out]) context(k K, ts int64) *ProcessContext[K, Out] {
	c.rt.key, c.rt.keyed, c.rt.kg = k, true, c.rt.keyGroup(k)
	c.ctx.ts = ts
	return (*ProcessContext[K, Out])(&c.ctx)
}

// unkeyed points the context at no key, for broadcast records and the end of input.
func (c *keyedCore[K, Out]) unkeyed(ts int64) *ProcessContext[K, Out] {
	var zero K
	c.rt.key, c.rt.keyed = zero, false
	c.ctx.ts = ts
	return (*ProcessContext[K, Out])(&c.ctx)
}

func (c *keyedCore[K, Out]) watermark(wm int64) {
	if wm <= c.wm {
		return
	}
	c.wm = wm
	for {
		k, t, ok := c.eventT.Next(wm)
		if !ok {
			break
		}
		if c.onTimer != nil {
			c.onTimer(c.context(k, t), t, EventTime)
		}
	}
	c.out.watermark(wm)
	c.sub.sideWatermark(wm)
}

func (c *keyedCore[K, Out]) processingTime(now int64) {
	for {
		k, t, ok := c.procT.Next(now)
		if !ok {
			return
		}
		if c.onTimer != nil {
			c.onTimer(c.context(k, t), t, ProcessingTime)
		}
	}
}

func (c *keyedCore[K, Out]) idle() { c.out.idle() }

func (c *keyedCore[K, Out]) barrier(id int64) {
	c.out.barrier(id)
	c.sub.sideBarrier(id)
}

func (c *keyedCore[K, Out]) end() {
	if c.onEnd != nil {
		c.onEnd(c.unkeyed(c.wm))
	}
	c.out.end()
	c.sub.sideEnd()
}

// processOp runs a KeyedProcessor in one subtask.
type processOp[K comparable, In, Out any] struct {
	*keyedCore[K, Out]
	key     func(In) K
	element func(ctx *ProcessContext[K, Out], v In)
}

func (op *processOp[K, In, Out]) record(v In, ts int64) {
	if op.element != nil {
		op.element(op.context(op.key(v), ts), v)
	}
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
