package streams

import (
	"context"
	"strings"
	"sync"
	"time"
)

// dedupe remembers the producer record ids a stream stored recently. An id is reserved
// before its record is queued, so a concurrent repeat waits for the first copy's outcome
// instead of racing it; a failed write releases the id so a retry can succeed.
//
// The ids live in memory, bounded by a window and a count: a server rebuilds them after a
// restart by reading the window's records back from the stream (rebuildDedupe).
type dedupe struct {
	window time.Duration
	maxIDs int
	now    func() time.Time

	mu    sync.Mutex
	ids   map[string]*dedupeEntry
	order []dedupeAge // insertion order, oldest first from head
	head  int
}

type dedupeAge struct {
	id string
	at time.Time
}

type dedupeEntry struct {
	done  chan struct{} // closed when the first copy's outcome is known
	shard string
	seq   SequenceNumber
	err   error
}

func newDedupe(window time.Duration, maxIDs int, now func() time.Time) *dedupe {
	return &dedupe{window: window, maxIDs: maxIDs, now: now, ids: map[string]*dedupeEntry{}}
}

// reserve returns the entry for id and whether it already existed (a duplicate).
func (d *dedupe) reserve(id string) (*dedupeEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.expireLocked(now)
	if e, ok := d.ids[id]; ok {
		return e, true
	}
	e := &dedupeEntry{done: make(chan struct{})}
	d.ids[id] = e
	d.order = append(d.order, dedupeAge{id: id, at: now})
	return e, false
}

// remember records an id already stored, as found when rebuilding after a restart.
func (d *dedupe) remember(id, shard string, seq SequenceNumber, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.ids[id]; ok {
		return
	}
	e := &dedupeEntry{done: make(chan struct{}), shard: shard, seq: seq}
	close(e.done)
	d.ids[id] = e
	d.order = append(d.order, dedupeAge{id: id, at: at})
	d.expireLocked(d.now())
}

// settle records the first copy's outcome; a failure forgets the id.
func (d *dedupe) settle(id string, e *dedupeEntry, shard string, seq SequenceNumber, err error) {
	e.shard, e.seq, e.err = shard, seq, err
	if err != nil {
		d.mu.Lock()
		if d.ids[id] == e {
			delete(d.ids, id)
		}
		d.mu.Unlock()
	}
	close(e.done)
}

func (e *dedupeEntry) wait(ctx context.Context) error {
	select {
	case <-e.done:
		return e.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *dedupe) expireLocked(now time.Time) {
	for d.head < len(d.order) {
		a := d.order[d.head]
		if now.Sub(a.at) <= d.window && len(d.order)-d.head <= d.maxIDs {
			break
		}
		if e := d.ids[a.id]; e != nil {
			select {
			case <-e.done:
				delete(d.ids, a.id)
			default:
				// Still being written: keep it until its outcome is known.
				return
			}
		}
		d.order[d.head] = dedupeAge{}
		d.head++
	}
	// Reclaim the consumed front of the queue once it dominates the slice.
	if d.head > 1024 && d.head*2 > len(d.order) {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}

// rebuildDedupe reads the dedupe window's records back from the stream, so a restarted
// server still recognises ids it acknowledged before the restart.
func (st *stream) rebuildDedupe(ctx context.Context) error {
	since := st.svc.opts.Now().Add(-st.svc.opts.DedupeWindow)
	cur, err := st.svc.cursorAtTime(ctx, st.name, "", since)
	if err != nil {
		return err
	}
	r := st.svc.newReader(cur)
	if r.meta, err = st.svc.shardMeta(ctx, st.name, ""); err != nil {
		return err
	}
	for {
		res, err := r.fetch(ctx, MaxReadLimit)
		if err != nil {
			return err
		}
		for i := range res.Records {
			r := &res.Records[i]
			if r.ProducerID != "" {
				st.dedupe.remember(strings.Clone(r.ProducerID), r.Shard, r.Sequence, r.ArrivalTime)
			}
		}
		if len(res.Records) == 0 || !res.More {
			return nil
		}
	}
}
