package tsbs

import (
	"testing"

	"github.com/eddy-streams/eddy/internal/tables"
)

// The benchmarks fill batches of 1,000 records, as a loader does (one op is a batch),
// from the default configuration, and report rows/s and values/s: the table write path
// has to take 500k rows/s, and the generator must not be what limits a load.

func benchGenerate(b *testing.B, newGenerator func(Config, int, int) (*Generator, error)) {
	start := func() *Generator {
		g, err := newGenerator(DefaultConfig(), 0, 1)
		if err != nil {
			b.Fatal(err)
		}
		return g
	}
	g := start()
	batch := make([]tables.Record, 1000)
	var done Stats // of the generators run to the end
	b.ReportAllocs()
	for b.Loop() {
		if n, _ := g.Next(batch); n == 0 {
			st := g.Stats()
			done.Rows += st.Rows
			done.Values += st.Values
			g = start()
		}
	}
	st := g.Stats()
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(done.Rows+st.Rows)/secs, "rows/s")
	b.ReportMetric(float64(done.Values+st.Values)/secs, "values/s")
}

func BenchmarkCPUOnly(b *testing.B) { benchGenerate(b, NewCPUOnly) }

func BenchmarkIoT(b *testing.B) { benchGenerate(b, NewIoT) }
