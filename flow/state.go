package flow

import (
	"fmt"
	"maps"
	"time"
)

// Runtime is what a keyed operator's subtask offers when it starts: state declarations
// and facts about the subtask. State declared on it is scoped to the key of the record
// (or timer) being processed.
type Runtime[K comparable] struct {
	key K
	// keyed is false while a broadcast record or the end of input is processed: keyed
	// state has no current key then.
	keyed   bool
	clock   Clock
	Subtask int
	// Parallelism is the operator's number of subtasks.
	Parallelism int
	states      []stateTable
	keyGroup    func(K) int
	// kg is the current key's key group; maxParallelism is the number of key groups.
	kg             int
	maxParallelism int
	// kv is the subtask's Pebble store when the job keeps keyed state in Pebble.
	kv *pebbleStore
}

// stateTable is one declared state, seen without its type, for sizes and snapshots.
type stateTable interface {
	stateName() string
	entries() int
	capture() func(w *stateWriter) error
	restore(r *stateReader) error
}

// StateOption configures a declared state.
type StateOption func(*stateConfig)

type stateConfig struct{ ttl int64 }

// StateTTL expires a key's entry when it was not written for d of processing time; an
// expired entry reads as absent.
func StateTTL(d time.Duration) StateOption {
	return func(c *stateConfig) { c.ttl = d.Milliseconds() }
}

func newStateConfig(opts []StateOption) stateConfig {
	var c stateConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ttlEntry is a state value with the processing time it was last written and the
// snapshot epoch it was written in.
type ttlEntry[V any] struct {
	v       V
	written int64
	epoch   uint64
}

// ValueState holds one value per key.
//
// With the heap backend its entries are kept in one map per key group. A checkpoint
// captures the maps by reference and marks them shared, which takes no time however
// large the state is; the first write to a shared map copies that key group's map
// (copy-on-write), so the checkpoint goes on encoding what it captured while the
// operator goes on. With the Pebble backend they are entries of the subtask's Pebble
// store (pebbleStore), and a value read is a decoded copy.
type ValueState[V any, K comparable] struct {
	rt     *Runtime[K]
	name   string
	ttl    int64
	groups []map[K]ttlEntry[V] // by key group
	shared []bool              // the group's map is held by a snapshot being encoded
	// epoch counts snapshots: a value written in an earlier epoch may be shared with a
	// snapshot still being encoded.
	epoch uint64
	// kv, when set, holds the entries instead of groups.
	kv *pebbleValues[V, K]
}

// NewValueState declares a value state; call it when the operator starts.
func NewValueState[V any, K comparable](rt *Runtime[K], name string, opts ...StateOption) *ValueState[V, K] {
	n := max(rt.maxParallelism, 1)
	s := &ValueState[V, K]{rt: rt, name: name, ttl: newStateConfig(opts).ttl}
	if rt.kv != nil {
		s.kv = newPebbleValues[V, K](rt.kv, name)
	} else {
		s.groups, s.shared = make([]map[K]ttlEntry[V], n), make([]bool, n)
	}
	rt.states = append(rt.states, s)
	return s
}

func (s *ValueState[V, K]) stateName() string { return s.name }

// entries counts heap state; Pebble state is not counted, which would take a read per
// write.
func (s *ValueState[V, K]) entries() int {
	n := 0
	for _, g := range s.groups {
		n += len(g)
	}
	return n
}

// writable returns key group kg's map, ready for a write.
func (s *ValueState[V, K]) writable(kg int) map[K]ttlEntry[V] {
	g := s.groups[kg]
	switch {
	case g == nil:
		g = map[K]ttlEntry[V]{}
		s.groups[kg] = g
	case s.shared[kg]:
		g = maps.Clone(g)
		s.groups[kg] = g
	}
	s.shared[kg] = false
	return g
}

func (s *ValueState[V, K]) mustBeKeyed() {
	if !s.rt.keyed {
		panic(failure{fmt.Errorf("state %q used where there is no current key (a broadcast record or the end of input)", s.name)})
	}
}

// Value returns the current key's value and whether it has one.
func (s *ValueState[V, K]) Value() (V, bool) {
	s.mustBeKeyed()
	if s.kv != nil {
		v, written, ok := s.kv.get(s.name, s.rt.kg, s.rt.key)
		if ok && s.ttl > 0 && s.rt.clock.NowMillis()-written >= s.ttl {
			s.kv.delete(s.name, s.rt.kg, s.rt.key)
			var zero V
			return zero, false
		}
		return v, ok
	}
	e, ok := s.groups[s.rt.kg][s.rt.key]
	if ok && s.ttl > 0 && s.rt.clock.NowMillis()-e.written >= s.ttl {
		delete(s.writable(s.rt.kg), s.rt.key)
		ok = false
	}
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Update sets the current key's value.
func (s *ValueState[V, K]) Update(v V) {
	s.mustBeKeyed()
	e := ttlEntry[V]{v: v, epoch: s.epoch}
	if s.ttl > 0 {
		e.written = s.rt.clock.NowMillis()
	}
	if s.kv != nil {
		s.kv.set(s.name, s.rt.kg, s.rt.key, v, e.written)
		return
	}
	s.writable(s.rt.kg)[s.rt.key] = e
}

// Clear removes the current key's value.
func (s *ValueState[V, K]) Clear() {
	s.mustBeKeyed()
	if s.kv != nil {
		s.kv.delete(s.name, s.rt.kg, s.rt.key)
		return
	}
	if _, ok := s.groups[s.rt.kg][s.rt.key]; ok {
		delete(s.writable(s.rt.kg), s.rt.key)
	}
}

// mutable returns the current key's value for changing in place: a value a snapshot may
// still be encoding is copied first (copy-on-write), so the snapshot keeps what it saw.
// A value read from Pebble is a copy already.
func (s *ValueState[V, K]) mutable(clone func(V) V) (V, bool) {
	v, ok := s.Value()
	if !ok || s.kv != nil {
		return v, ok
	}
	if e := s.groups[s.rt.kg][s.rt.key]; e.epoch != s.epoch {
		v = clone(v)
		s.Update(v)
	}
	return v, true
}

// ListState holds a list per key.
type ListState[V any, K comparable] struct {
	v *ValueState[[]V, K]
}

// NewListState declares a list state.
func NewListState[V any, K comparable](rt *Runtime[K], name string, opts ...StateOption) *ListState[V, K] {
	return &ListState[V, K]{v: NewValueState[[]V](rt, name, opts...)}
}

// Get returns the current key's list (nil when empty); do not keep it across calls, and
// change it only through Add and Update (with the Pebble backend it is a copy).
func (s *ListState[V, K]) Get() []V {
	l, _ := s.v.Value()
	return l
}

// Add appends to the current key's list.
func (s *ListState[V, K]) Add(v V) {
	l, _ := s.v.Value()
	s.v.Update(append(l, v))
}

// Update replaces the current key's list.
func (s *ListState[V, K]) Update(l []V) { s.v.Update(l) }

// Clear empties the current key's list.
func (s *ListState[V, K]) Clear() { s.v.Clear() }

// MapState holds a map per key.
type MapState[MK comparable, V any, K comparable] struct {
	v *ValueState[map[MK]V, K]
}

// NewMapState declares a map state.
func NewMapState[MK comparable, V any, K comparable](rt *Runtime[K], name string, opts ...StateOption) *MapState[MK, V, K] {
	return &MapState[MK, V, K]{v: NewValueState[map[MK]V](rt, name, opts...)}
}

// Get returns the current key's entry for mk.
func (s *MapState[MK, V, K]) Get(mk MK) (V, bool) {
	m, _ := s.v.Value()
	v, ok := m[mk]
	return v, ok
}

// Put sets the current key's entry for mk.
func (s *MapState[MK, V, K]) Put(mk MK, v V) {
	m, ok := s.v.mutable(maps.Clone)
	if !ok {
		m = map[MK]V{}
	}
	m[mk] = v
	s.v.Update(m)
}

// Remove deletes the current key's entry for mk.
func (s *MapState[MK, V, K]) Remove(mk MK) {
	m, ok := s.v.mutable(maps.Clone)
	if !ok {
		return
	}
	delete(m, mk)
	if len(m) == 0 {
		s.v.Clear()
		return
	}
	// The heap backend changed the map in place; Pebble's was a decoded copy.
	s.v.Update(m)
}

// All returns the current key's map; do not keep it across calls, and change it only
// through Put and Remove (with the Pebble backend it is a copy).
func (s *MapState[MK, V, K]) All() map[MK]V {
	m, _ := s.v.Value()
	return m
}

// Clear removes the current key's map.
func (s *MapState[MK, V, K]) Clear() { s.v.Clear() }

// ReducingState folds the values added for a key with a reduce function.
type ReducingState[V any, K comparable] struct {
	v      *ValueState[V, K]
	reduce func(a, b V) V
}

// NewReducingState declares a reducing state.
func NewReducingState[V any, K comparable](rt *Runtime[K], name string, reduce func(a, b V) V, opts ...StateOption) *ReducingState[V, K] {
	return &ReducingState[V, K]{v: NewValueState[V](rt, name, opts...), reduce: reduce}
}

// Add folds v into the current key's value.
func (s *ReducingState[V, K]) Add(v V) {
	if cur, ok := s.v.Value(); ok {
		v = s.reduce(cur, v)
	}
	s.v.Update(v)
}

// Get returns the current key's folded value.
func (s *ReducingState[V, K]) Get() (V, bool) { return s.v.Value() }

// Clear removes the current key's value.
func (s *ReducingState[V, K]) Clear() { s.v.Clear() }

// AggregatingState keeps an Aggregate's accumulator per key.
type AggregatingState[In, Acc, Out any, K comparable] struct {
	v   *ValueState[Acc, K]
	agg Aggregate[In, Acc, Out]
}

// NewAggregatingState declares an aggregating state.
func NewAggregatingState[In, Acc, Out any, K comparable](rt *Runtime[K], name string, agg Aggregate[In, Acc, Out], opts ...StateOption) *AggregatingState[In, Acc, Out, K] {
	return &AggregatingState[In, Acc, Out, K]{v: NewValueState[Acc](rt, name, opts...), agg: agg}
}

// Add adds in to the current key's accumulator.
func (s *AggregatingState[In, Acc, Out, K]) Add(in In) {
	acc, ok := s.v.Value()
	if !ok {
		acc = s.agg.Init()
	}
	s.v.Update(s.agg.Add(acc, in))
}

// Get returns the current key's result.
func (s *AggregatingState[In, Acc, Out, K]) Get() (Out, bool) {
	acc, ok := s.v.Value()
	if !ok {
		var zero Out
		return zero, false
	}
	return s.agg.Result(acc), true
}

// Clear removes the current key's accumulator.
func (s *AggregatingState[In, Acc, Out, K]) Clear() { s.v.Clear() }
