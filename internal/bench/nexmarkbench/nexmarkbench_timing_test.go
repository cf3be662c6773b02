package nexmarkbench

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
)

var (
	benchEvents = flag.Int64("nexmark.events", 2_000_000, "events per run of BenchmarkQueries")
	profileDir  = flag.String("nexmark.cpuprofile", "", "directory to write a CPU profile of each BenchmarkQueries case to, "+
		"timed runs only (go test's -cpuprofile would include the stream's preload)")
)

// BenchmarkQueries runs q0 and q5 from both sources. One op is one job over all the
// events; the figure that matters is the events/s metric. The stream is filled once,
// before the first case.
//
//	go test -run X -bench Queries -benchtime 3x -nexmark.cpuprofile /tmp/prof ./internal/bench/nexmarkbench
func BenchmarkQueries(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Events = *benchEvents
	cfg.Shards = cfg.Parallelism
	cfg.Dir = b.TempDir()
	bn := &bench{cfg: cfg, gen: cfg.generator(), rep: &Report{GOMAXPROCS: runtime.GOMAXPROCS(0)}}
	closeStore, err := bn.openStore(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer closeStore()
	for _, q := range Queries() {
		if q.Name != "q0" && q.Name != "q5" {
			continue
		}
		for _, src := range []Source{Memory, Stream} {
			b.Run(q.Name+"/"+string(src), func(b *testing.B) {
				if *profileDir != "" {
					f, err := os.Create(filepath.Join(*profileDir, q.Name+"-"+string(src)+".pprof"))
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					if err := pprof.StartCPUProfile(f); err != nil {
						b.Fatal(err)
					}
					defer pprof.StopCPUProfile()
				}
				var events, seconds float64
				for b.Loop() {
					res, err := bn.runQuery(context.Background(), q, src)
					if err != nil {
						b.Fatal(err)
					}
					events += float64(res.Events)
					seconds += res.Seconds
				}
				b.ReportMetric(events/seconds, "events/s")
			})
		}
	}
}
