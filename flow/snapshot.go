package flow

import (
	"encoding/gob"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eddy-streams/eddy/internal/engine"
)

// Keyed state is saved per key group, so a checkpoint can be restored at another
// parallelism: each restoring subtask reads the key groups it owns now.

// keyGroupFunc returns the key group of a key.
func keyGroupFunc[K comparable](hash func(K) uint64, maxParallelism int) func(K) int {
	return func(k K) int { return engine.KeyGroup(hash(k), maxParallelism) }
}

// valueEntry is one key's value as a checkpoint stores it.
type valueEntry[K comparable, V any] struct {
	Key     K
	Value   V
	Written int64
}

// capture holds on to the key groups' maps and marks them shared: the next write to a
// group copies its map first, and values changed in place are copied first too
// (mutable), so what was captured stays as it was while it is encoded.
//
// Pebble state is captured by its store for the whole subtask (keyedCore.snapshotState).
func (s *ValueState[V, K]) capture() func(w *stateWriter) error {
	if s.kv != nil {
		return nil
	}
	captured := slices.Clone(s.groups)
	for kg, g := range captured {
		if len(g) == 0 {
			// An empty map stays writable in place, so the encoder must not hold it.
			captured[kg] = nil
			continue
		}
		s.shared[kg] = true
	}
	s.epoch++
	return func(w *stateWriter) error {
		for kg, g := range captured {
			if len(g) == 0 {
				continue
			}
			entries := make([]valueEntry[K, V], 0, len(g))
			for k, e := range g {
				entries = append(entries, valueEntry[K, V]{k, e.v, e.written})
			}
			if err := w.put("value/"+s.name, kg, entries); err != nil {
				return err
			}
		}
		return nil
	}
}

func (s *ValueState[V, K]) restore(r *stateReader) error {
	if s.kv != nil {
		return nil
	}
	return r.each("value/"+s.name, func(_ int, dec *gob.Decoder) error {
		var entries []valueEntry[K, V]
		if err := dec.Decode(&entries); err != nil {
			return err
		}
		for _, e := range entries {
			s.writable(s.rt.keyGroup(e.Key))[e.Key] = ttlEntry[V]{v: e.Value, written: e.Written, epoch: s.epoch}
		}
		return nil
	})
}

func (s *BroadcastState[BK, BV]) capture() func(w *stateWriter) error {
	m := maps.Clone(s.m)
	return func(w *stateWriter) error { return w.put("broadcast/"+s.name, broadcastGroup, m) }
}

func (s *BroadcastState[BK, BV]) restore(r *stateReader) error {
	return r.each("broadcast/"+s.name, func(_ int, dec *gob.Decoder) error {
		return dec.Decode(&s.m)
	})
}

// timerEntry is one timer as a checkpoint stores it.
type timerEntry[K comparable] struct {
	Key  K
	Time int64
}

func captureTimers[K comparable](name string, t *engine.Timers[K], keyGroup func(K) int) func(w *stateWriter) error {
	all := make([]timerEntry[K], 0, t.Len())
	t.Each(func(k K, ts int64) { all = append(all, timerEntry[K]{k, ts}) })
	return func(w *stateWriter) error {
		groups := map[int][]timerEntry[K]{}
		for _, e := range all {
			kg := keyGroup(e.Key)
			groups[kg] = append(groups[kg], e)
		}
		for kg, entries := range groups {
			if err := w.put(name, kg, entries); err != nil {
				return err
			}
		}
		return nil
	}
}

func restoreTimers[K comparable](r *stateReader, name string, t *engine.Timers[K]) error {
	return r.each(name, func(_ int, dec *gob.Decoder) error {
		var entries []timerEntry[K]
		if err := dec.Decode(&entries); err != nil {
			return err
		}
		for _, e := range entries {
			t.Register(e.Key, e.Time)
		}
		return nil
	})
}

// snapshotState captures a keyed operator's declared state and its timers.
func (c *keyedCore[K, Out]) snapshotState() func(w *stateWriter) error {
	encoders := make([]func(*stateWriter) error, 0, len(c.rt.states)+3)
	if c.rt.kv != nil {
		encoders = append(encoders, c.rt.kv.capture())
	}
	for _, s := range c.rt.states {
		if encode := s.capture(); encode != nil {
			encoders = append(encoders, encode)
		}
	}
	encoders = append(encoders,
		captureTimers("timers/event", &c.eventT, c.rt.keyGroup),
		captureTimers("timers/processing", &c.procT, c.rt.keyGroup))
	return func(w *stateWriter) error {
		for _, encode := range encoders {
			if err := encode(w); err != nil {
				return err
			}
		}
		return nil
	}
}

func (c *keyedCore[K, Out]) restoreState(r *stateReader) error {
	if err := checkBackend(r, c.rt.kv != nil); err != nil {
		return err
	}
	if c.rt.kv != nil {
		if err := c.rt.kv.restore(r); err != nil {
			return err
		}
	}
	for _, s := range c.rt.states {
		if err := s.restore(r); err != nil {
			return err
		}
	}
	if err := restoreTimers(r, "timers/event", &c.eventT); err != nil {
		return err
	}
	return restoreTimers(r, "timers/processing", &c.procT)
}

// windowEntry is one key's window as a checkpoint stores it.
type windowEntry[K comparable, Acc any] struct {
	Key        K
	Start, End int64
	Acc        Acc
	Count      int64
}

// snapshotState copies the windows' accumulators (they change in place) and encodes
// them later. A WindowProcess accumulator is a slice that only grows by append, so the
// copy of its header keeps what it saw.
func (op *windowOp[K, In, Acc, Out]) snapshotState() func(w *stateWriter) error {
	all := make([]windowEntry[K, Acc], 0, len(op.state))
	for wk, st := range op.state {
		all = append(all, windowEntry[K, Acc]{wk.key, wk.w.Start, wk.w.End, st.acc, st.count})
	}
	return func(w *stateWriter) error {
		groups := map[int][]windowEntry[K, Acc]{}
		for _, e := range all {
			kg := op.keyGroup(e.Key)
			groups[kg] = append(groups[kg], e)
		}
		for kg, entries := range groups {
			if err := w.put("windows", kg, entries); err != nil {
				return err
			}
		}
		return nil
	}
}

// restoreState puts the windows back and sets their timers again; the timers follow
// from the windows, so they are not saved.
func (op *windowOp[K, In, Acc, Out]) restoreState(r *stateReader) error {
	return r.each("windows", func(_ int, dec *gob.Decoder) error {
		var entries []windowEntry[K, Acc]
		if err := dec.Decode(&entries); err != nil {
			return err
		}
		for _, e := range entries {
			wk := winKey[K]{e.Key, Window{e.Start, e.End}}
			op.state[wk] = &winState[Acc]{acc: e.Acc, count: e.Count}
			op.registerTimers(wk)
			if op.assigner.kind == session {
				op.sessions[e.Key] = append(op.sessions[e.Key], wk.w)
			}
		}
		return nil
	})
}

// checkBackend refuses keyed state that a checkpoint of the other backend wrote: each
// backend reads only its own sections, so the state would silently start empty.
func checkBackend(r *stateReader, pebble bool) error {
	for _, s := range r.sections {
		switch {
		case pebble && strings.HasPrefix(s.Name, "value/"):
			return fmt.Errorf("restore state %q: the checkpoint holds keyed state of the heap backend and the job now keeps it in pebble; run it with the heap backend", s.Name)
		case !pebble && s.Name == pebbleSectionName:
			return fmt.Errorf("restore keyed state: the checkpoint holds keyed state of the pebble backend and the job now keeps it on the heap; run it with the pebble backend")
		}
	}
	return nil
}
