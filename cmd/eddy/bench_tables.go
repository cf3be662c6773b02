package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/bench/tablesbench"
)

func newBenchTablesCmd() *cobra.Command {
	def := tablesbench.DefaultConfig()
	cfg := def
	var (
		useCase, output, cpuProfile string
		span                        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "tables",
		Short: "Load the TSBS cpu-only and iot data sets into tables and time ingest, storage and queries",
		Long: `Load TSBS's cpu-only and iot data sets (1,000 hosts or trucks reporting every
10 s) into eddy tables through the write path's Go API, tables.Service.Write, with
fsync on, on a Service in a temporary directory (no server is needed) whose clock
is set to the end of the data set. A raw DuckDB Appender loading the same rows into
plain DuckDB tables is measured in the same run as the baseline.

For each use case it reports:
  ingest       rows/s and values/s acknowledged, and rows/s until queryable, median
               [min–max] over --runs runs per loader count (--loaders; the fastest
               is the headline); each run stops after --duration or at the end of
               the data set. The loaders generate their rows as they write. The
               HTTP JSON write endpoint (a server in this process on a loopback
               port) is loaded the same way at the fastest loader count.
  queries      TSBS's typical queries as SQL on the tables' views, through the
               engine's Query (the path of POST /v1/query): median, p90 and min of
               20 executions after 3 warm-ups, on the memory tier, then again on
               the magnetic tier. cpu-only: lastpoint, single-groupby-1-1-1,
               double-groupby-all; iot: last-loc, low-fuel, avg-load,
               daily-activity. The report ends with the SQL.
  tiering      one pass moving everything to the magnetic tier, in rows/s, and
               the bytes of its Parquet files per stored value.

Before the queries the rest of the data set is loaded (untimed) when the last run
stopped at --duration. --span 0 takes the spans of the figures the report compares
with: 12 h for cpu-only, 24 h for iot. Put --dir on the disk you deploy on: fsync
on tmpfs costs nothing.`,
		Example: `  eddy bench tables
  eddy bench tables --use-case cpu-only --runs 1 --loaders 4
  eddy bench tables --hosts 100 --span 1h --cpuprofile ingest.pprof`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			switch useCase {
			case "both":
				cfg.UseCases = []tablesbench.UseCase{tablesbench.CPUOnly, tablesbench.IoT}
			case string(tablesbench.CPUOnly), string(tablesbench.IoT):
				cfg.UseCases = []tablesbench.UseCase{tablesbench.UseCase(useCase)}
			default:
				return fmt.Errorf("--use-case must be cpu-only, iot or both, got %q", useCase)
			}
			cfg.Span = map[tablesbench.UseCase]time.Duration{tablesbench.CPUOnly: span, tablesbench.IoT: span}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				cfg.CPUProfile = f
			}
			cfg.Progress = cmd.ErrOrStderr()
			return runBench(cmd, output, func(ctx context.Context) (*tablesbench.Report, error) { return tablesbench.Run(ctx, cfg) },
				func(rep *tablesbench.Report) bool { return len(rep.UseCases) == 0 })
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", def.Duration, "longest time of each timed ingest run")
	f.StringVar(&useCase, "use-case", "both", "TSBS use case: cpu-only, iot or both")
	f.IntVar(&cfg.Hosts, "hosts", def.Hosts, "hosts (cpu-only) or trucks (iot), TSBS's --scale")
	f.DurationVar(&span, "span", 0, "time the data set covers (0: 12h cpu-only, 24h iot)")
	f.IntVar(&cfg.Runs, "runs", def.Runs, "timed ingest runs per loader count")
	f.IntSliceVar(&cfg.Loaders, "loaders", def.Loaders, "numbers of concurrent loaders to try")
	f.IntVar(&cfg.Batch, "batch", def.Batch, "records per write")
	f.IntVar(&cfg.QueryRuns, "query-runs", def.QueryRuns, "timed executions of each query")
	f.BoolVar(&cfg.HTTP, "http", def.HTTP, "also load through the HTTP JSON write endpoint, at the fastest loader count")
	f.BoolVar(&cfg.Complete, "complete", def.Complete, "load the rest of the data set before the queries when a run stopped at --duration")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the temporary data (default: the system temp dir)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the first timed eddy ingest run to this file")
	f.StringVar(&output, "output", "table", "output format: table or json")
	return cmd
}
