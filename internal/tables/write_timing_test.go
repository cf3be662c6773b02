package tables_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/tsbs"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// BenchmarkWriteCPUOnly writes TSBS cpu-only rows (10 bigint measures, 10 dimensions)
// through Service.Write with durability on, from two loaders; b.N counts rows.
func BenchmarkWriteCPUOnly(b *testing.B) {
	dir := b.TempDir()
	eng, err := eddysql.Open(eddysql.Options{AllowedDirs: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	cfg := tsbs.DefaultConfig()
	cfg.Hosts = 1000
	cfg.Duration = 12 * time.Hour
	cfg.Start = time.Now().Add(-cfg.Duration)
	cfg.Table = "cpu"
	cat, _ := tables.Open(tables.NewMemStore(), nil)
	svc, err := tables.NewService(context.Background(), cat, eng, tables.Options{DataDir: filepath.Join(dir, "tables"), Fsync: os.Getenv("NOFSYNC") == ""})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	svc.CreateDatabase("bench")
	h := 24
	if _, err := svc.CreateTable("bench", "cpu", tables.TableOptions{MemoryRetentionHours: &h}); err != nil {
		b.Fatal(err)
	}
	const loaders = 2
	b.ResetTimer()
	var wg sync.WaitGroup
	for l := range loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := tsbs.NewCPUOnly(cfg, l, loaders)
			if err != nil {
				b.Error(err)
				return
			}
			batch := make([]tables.Record, 5000)
			left := b.N / loaders
			for left > 0 {
				n, _ := g.Next(batch[:min(len(batch), left)])
				if n == 0 {
					return
				}
				res, err := svc.Write(context.Background(), "bench", "cpu", &tables.WriteRequest{Records: batch[:n]})
				if err != nil || len(res.Rejected) > 0 {
					b.Errorf("write: %v %+v", err, res.Rejected[:min(1, len(res.Rejected))])
					return
				}
				left -= n
			}
		}()
	}
	wg.Wait()
	if err := svc.Sync("bench", "cpu"); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
