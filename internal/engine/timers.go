package engine

import "slices"

// Timers is a queue of timers per key, each firing once at its time; registering the same
// (key, time) twice keeps one. Timers fire in time order, ties in registration order.
type Timers[K comparable] struct {
	h   []timer[K]
	set map[timerID[K]]uint64 // live timers and the seq of their heap entry
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

func (q *Timers[K]) less(i, j int) bool {
	if q.h[i].time != q.h[j].time {
		return q.h[i].time < q.h[j].time
	}
	return q.h[i].seq < q.h[j].seq
}

func (q *Timers[K]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q.h[i], q.h[j] = q.h[j], q.h[i]
		j = i
	}
}

func (q *Timers[K]) down(i int) {
	n := len(q.h)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if j2 := j + 1; j2 < n && q.less(j2, j) {
			j = j2
		}
		if !q.less(j, i) {
			return
		}
		q.h[i], q.h[j] = q.h[j], q.h[i]
		i = j
	}
}

func (q *Timers[K]) pop() timer[K] {
	t := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h = q.h[:n]
	q.down(0)
	return t
}

// Register sets a timer for key at time t.
func (q *Timers[K]) Register(key K, t int64) {
	if q.set == nil {
		q.set = map[timerID[K]]uint64{}
	}
	id := timerID[K]{key, t}
	if _, ok := q.set[id]; ok {
		return
	}
	q.seq++
	q.set[id] = q.seq
	q.h = append(q.h, timer[K]{id, q.seq})
	q.up(len(q.h) - 1)
}

// Delete removes a timer; deleted timers stay in the heap until they come due or the
// heap is compacted, when they outnumber the live ones.
func (q *Timers[K]) Delete(key K, t int64) {
	delete(q.set, timerID[K]{key, t})
	if len(q.h) > 1024 && len(q.h) > 2*len(q.set) {
		q.h = slices.DeleteFunc(q.h, func(tm timer[K]) bool { return !q.live(tm) })
		for i := len(q.h)/2 - 1; i >= 0; i-- {
			q.down(i)
		}
	}
}

// live says the heap entry is the timer's current one, not one deleted (and maybe
// registered again since).
func (q *Timers[K]) live(tm timer[K]) bool {
	seq, ok := q.set[tm.timerID]
	return ok && seq == tm.seq
}

// Len is the number of timers set.
func (q *Timers[K]) Len() int { return len(q.set) }

// Next returns the earliest timer due at or before now and removes it.
func (q *Timers[K]) Next(now int64) (key K, t int64, ok bool) {
	for len(q.h) > 0 && q.h[0].time <= now {
		tm := q.pop()
		if !q.live(tm) {
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
		if q.live(q.h[0]) {
			return q.h[0].time, true
		}
		q.pop()
	}
	return 0, false
}

// Each calls fn for every live timer, in no particular order; checkpoints use it.
func (q *Timers[K]) Each(fn func(key K, t int64)) {
	for id := range q.set {
		fn(id.key, id.time)
	}
}
