package flow

import (
	"fmt"
	"testing"
)

// benchValue is a struct value: the Pebble backend encodes it with gob, type
// description included, each time.
type benchValue struct {
	Count int64
	Sum   float64
	Name  string
}

// BenchmarkValueState compares, per backend, an Update and a Value of a random key
// among 100,000, for a value the Pebble backend stores directly ([]byte) and one it
// gob-encodes (a struct).
func BenchmarkValueState(b *testing.B) {
	const keys = 100_000
	for _, backend := range []StateBackend{HeapBackend(), PebbleBackend(b.TempDir())} {
		b.Run(backend.String()+"/bytes", func(b *testing.B) {
			benchValueState(b, backend, keys, func(i int) []byte { return []byte(fmt.Sprintf("%0100d", i)) })
		})
		b.Run(backend.String()+"/struct-gob", func(b *testing.B) {
			benchValueState(b, backend, keys, func(i int) benchValue { return benchValue{Count: int64(i), Sum: float64(i) / 3, Name: "sensor-42"} })
		})
	}
}

func benchValueState[V any](b *testing.B, backend StateBackend, keys int, value func(int) V) {
	sub := testSubtaskWith(&fakeClock{}, backend)
	defer closeRun(sub)
	core := newKeyedCore(sub, &recorder[string]{}, func(k int64) uint64 { return uint64(k) })
	s := NewValueState[V](core.rt, "v")
	for k := range keys {
		core.context(int64(k), 0)
		s.Update(value(k))
	}
	v := value(7)
	b.ResetTimer()
	for i := range b.N {
		core.context(int64(uint64(i)*2654435761%uint64(keys)), 0)
		s.Update(v)
		if _, ok := s.Value(); !ok {
			b.Fatal("no value")
		}
	}
}
