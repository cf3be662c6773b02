package engine

import "container/heap"

// Timers is a queue of timers per key, each firing once at its time; registering the same
// (key, time) twice keeps one. Timers fire in time order, ties in registration order, so a
// job's output does not depend on map iteration.
type Timers[K comparable] struct {
	h   timerHeap[K]
	set map[timerID[K]]struct{}
	seq uint64
}

type timerID[K comparable] struct {
	key  K
	time int64
}

type timer[K comparable] struct {
	timerID[K]
	seq uint64
}

type timerHeap[K comparable] []timer[K]

func (h timerHeap[K]) Len() int { return len(h) }
func (h timerHeap[K]) Less(i, j int) bool {
	if h[i].time != h[j].time {
		return h[i].time < h[j].time
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap[K]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap[K]) Push(x any)   { *h = append(*h, x.(timer[K])) }
func (h *timerHeap[K]) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

// Register sets a timer for key at time t.
func (q *Timers[K]) Register(key K, t int64) {
	if q.set == nil {
		q.set = map[timerID[K]]struct{}{}
	}
	id := timerID[K]{key, t}
	if _, ok := q.set[id]; ok {
		return
	}
	q.set[id] = struct{}{}
	q.seq++
	heap.Push(&q.h, timer[K]{id, q.seq})
}

// Delete removes a timer; deleted timers are skipped when they come due.
func (q *Timers[K]) Delete(key K, t int64) {
	delete(q.set, timerID[K]{key, t})
}

// Len is the number of timers set.
func (q *Timers[K]) Len() int { return len(q.set) }

// Next returns the earliest timer due at or before now and removes it.
func (q *Timers[K]) Next(now int64) (key K, t int64, ok bool) {
	for len(q.h) > 0 && q.h[0].time <= now {
		tm := heap.Pop(&q.h).(timer[K])
		if _, live := q.set[tm.timerID]; !live {
			continue
		}
		delete(q.set, tm.timerID)
		return tm.key, tm.time, true
	}
	return key, 0, false
}

// Earliest returns the time of the earliest live timer.
func (q *Timers[K]) Earliest() (int64, bool) {
	for len(q.h) > 0 {
		if _, live := q.set[q.h[0].timerID]; live {
			return q.h[0].time, true
		}
		heap.Pop(&q.h)
	}
	return 0, false
}

// Each calls fn for every live timer, in no particular order; checkpoints use it.
func (q *Timers[K]) Each(fn func(key K, t int64)) {
	for id := range q.set {
		fn(id.key, id.time)
	}
}
