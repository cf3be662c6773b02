package flow

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"

	"github.com/eddy-streams/eddy/internal/engine"
)

// KeyedStream is a stream partitioned by key: every record of one key goes to the same
// subtask of a keyed operator, which keeps that key's state.
type KeyedStream[K comparable, T any] struct {
	in   *Stream[T]
	key  func(T) K
	hash func(K) uint64
}

// KeyBy partitions s by key. Keys must hash the same in every process, so that state
// saved by one run is found by the next: K must be a string or integer type (or a named
// type of one), or implement KeyHasher.
func KeyBy[T any, K comparable](s *Stream[T], key func(T) K) *KeyedStream[K, T] {
	h, err := keyHasher[K]()
	if err != nil {
		s.job.fail(err)
	}
	return &KeyedStream[K, T]{in: s, key: key, hash: h}
}

// Stream is the keyed stream's records as a plain stream, partitioned by key: operators
// chained to it run in the subtasks that own each key.
func (ks *KeyedStream[K, T]) Stream() *Stream[T] {
	return Process(ks, ks.in.v.name+"/by-key", func(*Runtime[K]) KeyedProcessor[K, T, T] {
		return KeyedProcessor[K, T, T]{Element: func(ctx *ProcessContext[K, T], v T) { ctx.Emit(v) }}
	})
}

// KeyHasher is implemented by key types other than strings and integers; the hash must
// depend only on the key's value.
type KeyHasher interface{ HashKey() uint64 }

// keyHasher picks, once per key type, an allocation-free hash that is stable across
// processes.
func keyHasher[K comparable]() (func(K) uint64, error) {
	t := reflect.TypeFor[K]()
	if t.Implements(reflect.TypeFor[KeyHasher]()) {
		return func(k K) uint64 { return any(k).(KeyHasher).HashKey() }, nil
	}
	switch t.Kind() {
	case reflect.String:
		return func(k K) uint64 { return xxhash.Sum64String(*(*string)(unsafe.Pointer(&k))) }, nil
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return func(k K) uint64 { return *(*uint64)(unsafe.Pointer(&k)) }, nil
	case reflect.Int32, reflect.Uint32:
		return func(k K) uint64 { return uint64(*(*uint32)(unsafe.Pointer(&k))) }, nil
	case reflect.Int16, reflect.Uint16:
		return func(k K) uint64 { return uint64(*(*uint16)(unsafe.Pointer(&k))) }, nil
	case reflect.Int8, reflect.Uint8, reflect.Bool:
		return func(k K) uint64 { return uint64(*(*uint8)(unsafe.Pointer(&k))) }, nil
	case reflect.Float64:
		return func(k K) uint64 { return math.Float64bits(*(*float64)(unsafe.Pointer(&k))) }, nil
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			n := t.Len()
			return func(k K) uint64 { return xxhash.Sum64(unsafe.Slice((*byte)(unsafe.Pointer(&k)), n)) }, nil
		}
	}
	return nil, fmt.Errorf("key type %s has no stable hash: use a string or integer key, or implement flow.KeyHasher", t)
}

// keyedVertex adds a keyed operator fed from ks through a hash-partitioned edge.
func keyedVertex[K comparable, T, U any](ks *KeyedStream[K, T], name string, parallelism int, newOp func(sub *subtask, out collector[U]) collector[T]) *Stream[U] {
	j := ks.in.job
	if parallelism <= 0 {
		parallelism = j.opts.Parallelism
	}
	maxPar := j.opts.MaxParallelism
	v := j.addVertex(name, parallelism)
	out := newStream[U](j, v)
	key, hash := ks.key, ks.hash
	e := &edge[T]{senders: ks.in.v.parallelism, route: func(x T, n int) int {
		return engine.SubtaskOf(engine.KeyGroup(hash(key(x)), maxPar), maxPar, n)
	}}
	j.addEdge(ks.in.v, v, "hash")
	ks.in.addConsumer(func(sub *subtask) collector[T] { return newWriter(e, sub.index, sub) })
	v.prepare = func(capacity int) { e.allocate(parallelism, capacity) }
	v.task = func(r *run, i int) func() error {
		sub := newSubtask(r, v, i)
		op := newOp(sub, out.collectorFor(sub))
		mustRestore(sub)
		in := newInput(sub, e.chans[i], e.senders, op)
		return func() error { return runInput(sub, in) }
	}
	return out
}
