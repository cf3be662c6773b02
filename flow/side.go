package flow

import (
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// SideOutput names a second output of an operator, such as the records a window
// received too late. Declare it before building the operator and get its stream with
// SideStream.
type SideOutput[V any] struct{ name string }

// NewSideOutput declares a side output.
func NewSideOutput[V any](name string) SideOutput[V] { return SideOutput[V]{name: name} }

// SideStream is the stream of tag's records emitted by the operator that produces s.
func SideStream[V, T any](s *Stream[T], tag SideOutput[V]) *Stream[V] {
	if s.v.sides == nil {
		s.v.sides = map[string]sideBuilder{}
	}
	if b, ok := s.v.sides[tag.name]; ok {
		if st, ok := b.(*Stream[V]); ok {
			return st
		}
		s.job.fail(fmt.Errorf("side output %q of %s is declared with two types", tag.name, s.v.name))
		return newStream[V](s.job, s.v)
	}
	st := newStream[V](s.job, s.v)
	s.v.sides[tag.name] = st
	return st
}

// Emit sends v to the side output with the current record's timestamp.
func (tag SideOutput[V]) Emit(c emitContext, v V) {
	sub, ts := c.emitTarget()
	if col, ok := sub.sides[tag.name].(collector[V]); ok {
		col.record(v, ts)
	}
}

// emitContext is implemented by the contexts operators hand to user functions.
type emitContext interface {
	emitTarget() (*subtask, int64)
}

// sideBuilder is a side-output stream seen without its type.
type sideBuilder interface {
	buildSide(sub *subtask) sideCollector
}

// sideCollector is a side output's receiver seen without its type.
type sideCollector interface {
	watermark(wm int64)
	end()
	barrier(id int64)
}

func (s *Stream[T]) buildSide(sub *subtask) sideCollector { return s.collectorFor(sub) }

// runInput is the loop of a subtask fed by an edge: messages in, and processing-time
// ticks for the operators that asked for them.
func runInput[T any](sub *subtask, in *input[T]) error {
	tick, stop := sub.ticker()
	defer stop()
	clock := sub.clock()
	for {
		var m engine.Message[T]
		select {
		case m = <-in.ch:
		default:
			// Nothing queued: the time until something arrives is idle time.
			start := time.Now()
			select {
			case m = <-in.ch:
			case <-tick:
				sub.m.idleNs.Add(int64(time.Since(start)))
				sub.tick(clock)
				continue
			case id := <-sub.completed:
				sub.m.idleNs.Add(int64(time.Since(start)))
				sub.commit(id)
				continue
			case <-sub.run.done:
				return nil
			}
			sub.m.idleNs.Add(int64(time.Since(start)))
		}
		if in.handle(m) {
			return nil
		}
		if len(sub.completed) > 0 {
			// Under steady load the channel is never empty: commit between messages.
			sub.commit(<-sub.completed)
		}
		sub.publish()
	}
}

// tick runs the chained operators' processing-time callbacks and sends batches that
// waited too long.
func (sub *subtask) tick(clock Clock) {
	if len(sub.onTime) > 0 {
		now := clock.NowMillis()
		for _, f := range sub.onTime {
			f(now)
		}
	}
	sub.flushIfDue(time.Now())
	sub.publishState()
}

// ticker returns the subtask's tick channel: for processing-time timers and for the
// buffer timeout of its writers; nil when it needs neither.
func (sub *subtask) ticker() (<-chan time.Time, func()) {
	opts := sub.run.job.opts
	var d time.Duration
	switch {
	case len(sub.onTime) > 0:
		d = min(opts.ProcessingTimeTick, opts.BufferTimeout)
	case len(sub.flushers) > 0:
		d = opts.BufferTimeout
	default:
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}
