package nexmark

import (
	"encoding/json"
	"testing"
)

// The benchmarks count one op per event. The JSON ones run encoding/json on the same
// events as a baseline in the same run.

func BenchmarkGenerate(b *testing.B) {
	g := mustGenerator(b, DefaultConfig(), 0, 1)
	var e Event
	b.ReportAllocs()
	for b.Loop() {
		g.Next(&e)
	}
}

// benchEvents is a sample with the stream's mix of kinds.
func benchEvents(b *testing.B) []Event {
	return generate(b, boundedConfig(5_000), 0, 1)
}

func BenchmarkEncode(b *testing.B) {
	events := benchEvents(b)
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			buf = AppendJSON(buf[:0], &events[i%len(events)])
			i++
		}

	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := json.Marshal(toEnvelope(&events[i%len(events)])); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	events := benchEvents(b)
	records := make([][]byte, len(events))
	for i := range events {
		records[i] = AppendJSON(nil, &events[i])
	}
	b.Run("DecodeJSON", func(b *testing.B) {
		var e Event
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := DecodeJSON(records[i%len(records)], &e); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var env envelope
			if err := json.Unmarshal(records[i%len(records)], &env); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
