package flow

import (
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// ConnectedStreams are two keyed streams with the same key type, processed by one keyed
// function that sees both and shares their key's state.
type ConnectedStreams[K comparable, A, B any] struct {
	a *KeyedStream[K, A]
	b *KeyedStream[K, B]
}

// Connect pairs two keyed streams for CoProcess.
func Connect[K comparable, A, B any](a *KeyedStream[K, A], b *KeyedStream[K, B]) *ConnectedStreams[K, A, B] {
	return &ConnectedStreams[K, A, B]{a: a, b: b}
}

// CoProcessor is a keyed function of two inputs.
type CoProcessor[K comparable, A, B, Out any] struct {
	Element1 func(ctx *ProcessContext[K, Out], v A)
	Element2 func(ctx *ProcessContext[K, Out], v B)
	Timer    func(ctx *ProcessContext[K, Out], t int64, domain TimeDomain)
	End      func(ctx *ProcessContext[K, Out])
}

// CoProcess runs a keyed function over two connected streams. Its watermark is the
// minimum over both inputs.
func CoProcess[K comparable, A, B, Out any](c *ConnectedStreams[K, A, B], name string, open func(rt *Runtime[K]) CoProcessor[K, A, B, Out], opts ...ProcessOptions) *Stream[Out] {
	j := c.a.in.job
	maxPar := j.opts.MaxParallelism
	ea := &edge[A]{route: keyRoute(c.a, maxPar)}
	eb := &edge[B]{route: keyRoute(c.b, maxPar)}
	keyA, keyB, hash := c.a.key, c.b.key, c.a.hash
	return twoInputVertex(j, name, parallelismOf(opts), c.a.in, ea, c.b.in, eb, func(sub *subtask, out collector[Out]) (func(A, int64), func(B, int64), *keyedCore[K, Out]) {
		core := newKeyedCore(sub, out, hash)
		fn := open(core.rt)
		core.onTimer, core.onEnd = fn.Timer, fn.End
		recA := func(v A, ts int64) {
			if fn.Element1 != nil {
				fn.Element1(core.context(keyA(v), ts), v)
			}
		}
		recB := func(v B, ts int64) {
			if fn.Element2 != nil {
				fn.Element2(core.context(keyB(v), ts), v)
			}
		}
		return recA, recB, core
	})
}

func keyRoute[K comparable, T any](ks *KeyedStream[K, T], maxPar int) func(T, int) int {
	key, hash := ks.key, ks.hash
	return func(x T, n int) int {
		return engine.SubtaskOf(engine.KeyGroup(hash(key(x)), maxPar), maxPar, n)
	}
}

// twoInputVertex adds an operator fed by two edges; both share one gate, so the operator
// sees one watermark and one end.
func twoInputVertex[K comparable, A, B, Out any](j *Job, name string, parallelism int, inA *Stream[A], ea *edge[A], inB *Stream[B], eb *edge[B], newOp func(sub *subtask, out collector[Out]) (func(A, int64), func(B, int64), *keyedCore[K, Out])) *Stream[Out] {
	if parallelism <= 0 {
		parallelism = j.opts.Parallelism
	}
	v := j.addVertex(name, parallelism)
	out := newStream[Out](j, v)
	ea.senders, eb.senders = inA.v.parallelism, inB.v.parallelism
	j.addEdge(inA.v, v, partitioning(ea.broadcast))
	j.addEdge(inB.v, v, partitioning(eb.broadcast))
	inA.addConsumer(func(sub *subtask) collector[A] { return newWriter(ea, sub.index, sub) })
	inB.addConsumer(func(sub *subtask) collector[B] { return newWriter(eb, sub.index, sub) })
	v.prepare = func(capacity int) {
		ea.allocate(parallelism, capacity)
		eb.allocate(parallelism, capacity)
	}
	v.task = func(r *run, i int) func() error {
		sub := newSubtask(r, v, i)
		recA, recB, core := newOp(sub, out.collectorFor(sub))
		mustRestore(sub)
		g := newGate(sub.m, ea.senders+eb.senders, core.watermark, core.end)
		g.onBarrier = func(id int64) {
			core.barrier(id)
			sub.checkpoint(id)
		}
		a := attachInput(g, &input[A]{ch: ea.chans[i], g: g, rec: recA})
		b := attachInput(g, &input[B]{ch: eb.chans[i], offset: ea.senders, g: g, rec: recB})
		return func() error { return runTwoInputs(sub, a, b) }
	}
	return out
}

func partitioning(broadcast bool) string {
	if broadcast {
		return "broadcast"
	}
	return "hash"
}

func runTwoInputs[A, B any](sub *subtask, a *input[A], b *input[B]) error {
	tick, stop := sub.ticker()
	defer stop()
	clock := sub.clock()
	for {
		start := time.Now()
		select {
		case m := <-a.ch:
			sub.m.idleNs.Add(int64(time.Since(start)))
			if a.handle(m) {
				return nil
			}
		case m := <-b.ch:
			sub.m.idleNs.Add(int64(time.Since(start)))
			if b.handle(m) {
				return nil
			}
		case <-tick:
			sub.m.idleNs.Add(int64(time.Since(start)))
			sub.tick(clock)
		case id := <-sub.completed:
			sub.commit(id)
		case <-sub.run.done:
			return nil
		}
		if len(sub.completed) > 0 {
			sub.commit(<-sub.completed)
		}
		sub.publish()
	}
}

// BroadcastProcessor is a keyed function that also sees every record of a broadcast
// stream (rules, reference data) in every subtask. Broadcast runs without a current key:
// it may change broadcast state, not keyed state.
type BroadcastProcessor[K comparable, T, R, Out any] struct {
	Element   func(ctx *ProcessContext[K, Out], v T)
	Broadcast func(ctx *ProcessContext[K, Out], r R)
	Timer     func(ctx *ProcessContext[K, Out], t int64, domain TimeDomain)
	End       func(ctx *ProcessContext[K, Out])
}

// ProcessBroadcast connects a keyed stream with a stream broadcast to every subtask.
func ProcessBroadcast[K comparable, T, R, Out any](ks *KeyedStream[K, T], rules *Stream[R], name string, open func(rt *Runtime[K]) BroadcastProcessor[K, T, R, Out], opts ...ProcessOptions) *Stream[Out] {
	j := ks.in.job
	ea := &edge[T]{route: keyRoute(ks, j.opts.MaxParallelism)}
	eb := &edge[R]{broadcast: true}
	key, hash := ks.key, ks.hash
	return twoInputVertex(j, name, parallelismOf(opts), ks.in, ea, rules, eb, func(sub *subtask, out collector[Out]) (func(T, int64), func(R, int64), *keyedCore[K, Out]) {
		core := newKeyedCore(sub, out, hash)
		fn := open(core.rt)
		core.onTimer, core.onEnd = fn.Timer, fn.End
		recA := func(v T, ts int64) {
			if fn.Element != nil {
				fn.Element(core.context(key(v), ts), v)
			}
		}
		recB := func(r R, ts int64) {
			if fn.Broadcast != nil {
				fn.Broadcast(core.unkeyed(ts), r)
			}
		}
		return recA, recB, core
	})
}

// BroadcastState is a map every subtask of a broadcast operator holds in full: every
// subtask sees the same broadcast records, so each copy is the same.
type BroadcastState[BK comparable, BV any] struct {
	name string
	m    map[BK]BV
}

// NewBroadcastState declares a broadcast state.
func NewBroadcastState[BK comparable, BV any, K comparable](rt *Runtime[K], name string) *BroadcastState[BK, BV] {
	s := &BroadcastState[BK, BV]{name: name, m: map[BK]BV{}}
	rt.states = append(rt.states, s)
	return s
}

func (s *BroadcastState[BK, BV]) stateName() string { return s.name }
func (s *BroadcastState[BK, BV]) entries() int      { return len(s.m) }

// Get returns the entry for k.
func (s *BroadcastState[BK, BV]) Get(k BK) (BV, bool) {
	v, ok := s.m[k]
	return v, ok
}

// Put sets the entry for k.
func (s *BroadcastState[BK, BV]) Put(k BK, v BV) { s.m[k] = v }

// Remove deletes the entry for k.
func (s *BroadcastState[BK, BV]) Remove(k BK) { delete(s.m, k) }

// All returns the whole map; do not change it.
func (s *BroadcastState[BK, BV]) All() map[BK]BV { return s.m }
