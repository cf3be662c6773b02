package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/bench/nexmarkbench"
)

func newBenchNexmarkCmd() *cobra.Command {
	def := nexmarkbench.DefaultConfig()
	cfg := def
	var query, source, output string
	cmd := &cobra.Command{
		Use:   "nexmark",
		Short: "Run the Nexmark queries as flow jobs and measure throughput and latency",
		Long: `Run Nexmark queries as flow jobs on this machine, reading the events from two
sources, reported separately:

  memory  the Nexmark generator itself, one split per source subtask
  stream  an eddy stream holding the JSON form of the same events, read with the
          eddystream source and decoded with nexmark.DecodeJSON. The stream lives
          on an embedded JetStream in a temporary directory (no server is needed)
          and is filled once, before any query is timed; the preload rate is
          reported on its own line. Each job reads it from start to end.

Queries: ` + strings.Join(nexmarkbench.QueryNames(), ", ") + ` (--query all runs every one).

The generator's event time advances one second per --rate events. The default,
1,000,000, makes 10 million events span 10 s of event time, as the published
runs' 100 million events at 10 million a second do, so windows fire during the
run.

For each query and source it prints:
  events/s     events read ÷ wall time of the job, from its start until every
               result has reached the sink
  per core     events/s ÷ GOMAXPROCS (not ÷ the CPU time used; the cpu column
               shows how busy the process was: CPU time ÷ (wall time ×
               GOMAXPROCS), the embedded JetStream included)
  p50 p99 max  end-to-end latency of the results (below), sampled
  p99 past wm  for results the watermark triggers, latency counted from when
               the watermark could first pass them (below)
  results      rows that reached the sink

End-to-end latency of a result is the wall-clock time at which it reached the
sink minus the wall-clock time at which the sources first emitted an event
whose event time is at or after the result's event time. q0-q2 make each row
from one event in the source subtask that read it, and count from when that
subtask reached the row's time. Event times are milliseconds: a row is charged
from the first event of its millisecond. Window and timer results (q4, q5, q7,
q11) carry their window's last millisecond or the timer's time, so their
latency includes waiting for the watermark to pass it: the sources must first
reach an event time the out-of-orderness bound (4 s) later, which takes as long
as reading 4 s worth of events (--rate × 4). "p99 past wm" leaves that wait out:
it counts from when every source subtask had reached the result's time plus the
bound, the engine's own delay. Results whose time the input never reaches fire
when the input ends and count from when the last source subtask ended. q12
works in processing time; its latency counts from the wall-clock end of its
window (a bounded run flushes open windows early: 0).

Targets (from an eddy stream with JSON events, on a 2-core machine) are marked
with ✓ or ✗: q0 ≥ 1,000,000 events/s; q5 and q7 ≥ 250,000; q8 ≥ 500,000;
q11 ≥ 250,000. Figures from a shared machine are noisy: compare runs made
together.`,
		Example: `  eddy bench nexmark --query q5 --events 10000000
  eddy bench nexmark --query all --events 2000000 --source stream
  eddy bench nexmark --query q7,q8 --rate 10000000 --output json > nexmark.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			cfg.Queries = nil
			for _, q := range strings.Split(query, ",") {
				if q = strings.TrimSpace(q); q == "all" {
					cfg.Queries = nexmarkbench.QueryNames()
					break
				}
				cfg.Queries = append(cfg.Queries, strings.TrimSpace(q))
			}
			switch source {
			case "both":
				cfg.Sources = []nexmarkbench.Source{nexmarkbench.Memory, nexmarkbench.Stream}
			case string(nexmarkbench.Memory), string(nexmarkbench.Stream):
				cfg.Sources = []nexmarkbench.Source{nexmarkbench.Source(source)}
			default:
				return fmt.Errorf("--source must be memory, stream or both, got %q", source)
			}
			cfg.Progress = cmd.ErrOrStderr()
			return runBench(cmd, output, func(ctx context.Context) (*nexmarkbench.Report, error) { return nexmarkbench.Run(ctx, cfg) }, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&query, "query", "q5", "queries to run, comma-separated, or all")
	f.Int64Var(&cfg.Events, "events", def.Events, "events each job reads")
	f.Int64Var(&cfg.Rate, "rate", def.Rate, "events per second of event time (the generator's first event rate)")
	f.StringVar(&source, "source", "both", "where events come from: memory, stream or both")
	f.IntVar(&cfg.Parallelism, "parallelism", def.Parallelism, "subtasks of the source and of every keyed operator (default GOMAXPROCS)")
	f.IntVar(&cfg.Shards, "shards", 0, "shards of the preloaded stream (default: the parallelism)")
	f.DurationVar(&cfg.OutOfOrderness, "out-of-orderness", def.OutOfOrderness, "how far watermarks trail the latest event time")
	f.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", 0, "run the queries with checkpoints to a file store under --dir at this interval (0: off), to measure their cost")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the temporary JetStream store (default: the system temp dir)")
	f.StringVar(&output, "output", "table", "output format: table or json")
	return cmd
}
