package flow

import (
	"fmt"
	"slices"
	"time"
)

// IntervalJoin joins each record a of one keyed stream with every record b of the other
// that has the same key and an event time in [a.time+lower, a.time+upper]. The result
// carries the later of the two times. Records behind the watermark are dropped; buffered
// records are cleaned up as soon as no future record can match them.
func IntervalJoin[K comparable, A, B, Out any](a *KeyedStream[K, A], b *KeyedStream[K, B], name string, lower, upper time.Duration, join func(a A, b B) Out, opts ...ProcessOptions) *Stream[Out] {
	lo, hi := lower.Milliseconds(), upper.Milliseconds()
	if lo > hi {
		a.in.job.fail(fmt.Errorf("interval join %s: lower bound %s exceeds upper bound %s", name, lower, upper))
	}
	return CoProcess(Connect(a, b), name, func(rt *Runtime[K]) CoProcessor[K, A, B, Out] {
		left := NewMapState[int64, []A](rt, "left")
		right := NewMapState[int64, []B](rt, "right")
		return CoProcessor[K, A, B, Out]{
			Element1: func(ctx *ProcessContext[K, Out], v A) {
				t := ctx.Timestamp()
				if t <= ctx.Watermark() {
					return
				}
				for _, tb := range sortedTimes(right.All()) {
					if tb >= t+lo && tb <= t+hi {
						for _, w := range right.All()[tb] {
							ctx.EmitAt(join(v, w), max(t, tb))
						}
					}
				}
				l, _ := left.Get(t)
				left.Put(t, append(l, v))
				ctx.SetEventTimer(t + hi)
			},
			Element2: func(ctx *ProcessContext[K, Out], v B) {
				t := ctx.Timestamp()
				if t <= ctx.Watermark() {
					return
				}
				for _, ta := range sortedTimes(left.All()) {
					if t >= ta+lo && t <= ta+hi {
						for _, u := range left.All()[ta] {
							ctx.EmitAt(join(u, v), max(t, ta))
						}
					}
				}
				r, _ := right.Get(t)
				right.Put(t, append(r, v))
				ctx.SetEventTimer(t - lo)
			},
			Timer: func(ctx *ProcessContext[K, Out], now int64, _ TimeDomain) {
				for ta := range left.All() {
					if ta+hi <= now {
						left.Remove(ta)
					}
				}
				for tb := range right.All() {
					if tb-lo <= now {
						right.Remove(tb)
					}
				}
			},
		}
	}, opts...)
}

// sortedTimes lists a buffer's times in order, so join output does not depend on map
// iteration order.
func sortedTimes[V any](m map[int64]V) []int64 {
	ts := make([]int64, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// Either holds a record of one of two types; window joins carry both inputs in one
// stream with it.
type Either[A, B any] struct {
	Left    A
	Right   B
	IsRight bool
}

// WindowJoin joins the records of two keyed streams that share a key and a window: when
// the window fires, join is called for every pair of a left and a right record in it.
func WindowJoin[K comparable, A, B, Out any](a *KeyedStream[K, A], b *KeyedStream[K, B], name string, w WindowAssigner, join func(key K, win Window, a A, b B) Out, opts ...WindowOptions[Either[A, B]]) *Stream[Out] {
	left := Map(a.in, name+"/left", func(v A) Either[A, B] { return Either[A, B]{Left: v} })
	right := Map(b.in, name+"/right", func(v B) Either[A, B] { return Either[A, B]{Right: v, IsRight: true} })
	keyA, keyB := a.key, b.key
	both := KeyBy(Union(name+"/union", max(a.in.v.parallelism, b.in.v.parallelism), left, right), func(e Either[A, B]) K {
		if e.IsRight {
			return keyB(e.Right)
		}
		return keyA(e.Left)
	})
	return WindowProcess(both, name, w, func(key K, win Window, recs []Either[A, B], emit func(Out)) {
		for _, l := range recs {
			if l.IsRight {
				continue
			}
			for _, r := range recs {
				if r.IsRight {
					emit(join(key, win, l.Left, r.Right))
				}
			}
		}
	}, opts...)
}

// LookupJoin enriches each record of main with the latest row of table for its key, as
// seen when the record arrives (a processing-time lookup: a record that arrives before
// its key's first row sees found == false). join returns ok false to drop the record.
func LookupJoin[K comparable, T, V, Out any](main *KeyedStream[K, T], table *KeyedStream[K, V], name string, join func(v T, row V, found bool) (out Out, ok bool), opts ...ProcessOptions) *Stream[Out] {
	return CoProcess(Connect(main, table), name, lookupProcessor[K](join), opts...)
}

func lookupProcessor[K comparable, T, V, Out any](join func(v T, row V, found bool) (Out, bool)) func(rt *Runtime[K]) CoProcessor[K, T, V, Out] {
	return func(rt *Runtime[K]) CoProcessor[K, T, V, Out] {
		rows := NewValueState[V](rt, "rows")
		return CoProcessor[K, T, V, Out]{
			Element1: func(ctx *ProcessContext[K, Out], v T) {
				row, found := rows.Value()
				if out, ok := join(v, row, found); ok {
					ctx.Emit(out)
				}
			},
			Element2: func(_ *ProcessContext[K, Out], row V) { rows.Update(row) },
		}
	}
}

// version is a table row valid from its event time on.
type version[V any] struct {
	From int64
	Row  V
}

// TemporalJoin enriches each record of main with the row of table that was current for
// its key at the record's event time: the latest table record of the key whose time is
// not later. A record waits until the watermark of both inputs passes its time, so the
// result does not depend on which input arrives first (unlike LookupJoin), at the cost
// of the watermark's delay. Table rows older than the current one are dropped as event
// time passes them. join returns ok false to drop the record.
func TemporalJoin[K comparable, T, V, Out any](main *KeyedStream[K, T], table *KeyedStream[K, V], name string, join func(v T, row V, found bool) (out Out, ok bool), opts ...ProcessOptions) *Stream[Out] {
	return CoProcess(Connect(main, table), name, temporalProcessor[K](join), opts...)
}

func temporalProcessor[K comparable, T, V, Out any](join func(v T, row V, found bool) (Out, bool)) func(rt *Runtime[K]) CoProcessor[K, T, V, Out] {
	return func(rt *Runtime[K]) CoProcessor[K, T, V, Out] {
		pending := NewMapState[int64, []T](rt, "pending")
		versions := NewListState[version[V]](rt, "versions")
		return CoProcessor[K, T, V, Out]{
			Element1: func(ctx *ProcessContext[K, Out], v T) {
				t := ctx.Timestamp()
				waiting, _ := pending.Get(t)
				pending.Put(t, append(waiting, v))
				ctx.SetEventTimer(t)
			},
			Element2: func(ctx *ProcessContext[K, Out], row V) {
				vs := append(versions.Get(), version[V]{From: ctx.Timestamp(), Row: row})
				// Rows can arrive out of order: keep the versions sorted by time.
				slices.SortStableFunc(vs, func(a, b version[V]) int { return cmpInt64(a.From, b.From) })
				versions.Update(vs)
				ctx.SetEventTimer(ctx.Timestamp())
			},
			Timer: func(ctx *ProcessContext[K, Out], now int64, _ TimeDomain) {
				vs := versions.Get()
				for _, t := range sortedTimes(pending.All()) {
					if t > now {
						break
					}
					var row V
					found := false
					for _, ver := range vs {
						if ver.From > t {
							break
						}
						row, found = ver.Row, true
					}
					for _, v := range pending.All()[t] {
						if out, ok := join(v, row, found); ok {
							ctx.EmitAt(out, t)
						}
					}
					pending.Remove(t)
				}
				// Only the row current at the watermark can still be needed.
				keep := 0
				for i, ver := range vs {
					if ver.From <= now {
						keep = i
					}
				}
				if keep > 0 {
					versions.Update(slices.Clone(vs[keep:]))
				}
			},
		}
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
