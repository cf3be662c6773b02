package wal

import (
	"fmt"
	"testing"
)

// BenchmarkAppend appends from many goroutines at once, as a table's write path does,
// so that group commit has something to group. It reports entries per second and the
// mean number of entries each fsync covered.
func BenchmarkAppend(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("fsync=%t/size=%d", fsync, size), func(b *testing.B) {
				l, err := Open(Options{Dir: b.TempDir(), Fsync: fsync})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size))
				b.SetParallelism(64) // 64 appenders per core
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					payload := make([]byte, size)
					for i := range payload {
						payload[i] = byte(i)
					}
					for pb.Next() {
						if _, err := l.Append(payload); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
				if n := l.syncs.Load(); n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "entries/fsync")
				}
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkAppendBatch appends batches of 100 entries of 100 bytes, the shape of a
// write request of 100 rows, from several goroutines.
func BenchmarkAppendBatch(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%t", fsync), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Fsync: fsync})
			if err != nil {
				b.Fatal(err)
			}
			const rows, size = 100, 100
			b.SetBytes(rows * size)
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				batch := make([][]byte, rows)
				for i := range batch {
					batch[i] = make([]byte, size)
				}
				for pb.Next() {
					if _, err := l.AppendBatch(batch); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "entries/s")
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
