package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/bench/checkpointbench"
)

func newBenchCheckpointCmd() *cobra.Command {
	def := checkpointbench.DefaultConfig()
	cfg := def
	var states []string
	for _, s := range def.States {
		states = append(states, strings.ReplaceAll(checkpointbench.FormatSize(s), " ", ""))
	}
	var output, backend string
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Measure checkpoints of keyed state (heap or Pebble): pause, duration, size, incremental size, throughput cost, recovery",
		Long: `Run a flow job in this process whose keyed ValueState, kept by each --backend
(heap, pebble or both), is filled to each --state-size (keys 0..N-1 with values
of --value-bytes; N = state ÷ value bytes), then keeps processing events as fast
as it can (each a lookup of a random key) while 1% of the keys are updated per
second. Each backend and state size runs the job three times:

  baseline     no checkpoints: the event rate, and the heap (and for Pebble the
               disk) the state takes
  checkpoints  a checkpoint every --interval for --duration (longer if it takes
               that to complete three), to a file:// flow.BlobStore: count,
               median and max duration, median and max pause (the longest a
               subtask stopped processing to snapshot), bytes per checkpoint,
               and the event rate ÷ the baseline's. Then the incremental
               measurement: the steady updates stop, a checkpoint is taken, 1%
               of the keys are updated and another is taken: the bytes it
               writes as a share of the state (Pebble uploads only new SST files)
  restore      a new run restoring the latest checkpoint: the time from
               flow.Run to the first record processed

Targets are marked ✓ or ✗: a checkpoint stalls processing at most 50 ms; a
state of up to 100 MB is restored in under 3 s; a Pebble checkpoint after 1% of
the keys changed writes less than 5% of the state.

Checkpoints go under --dir (default: the system temp dir, or the user cache dir
if the temp dir is tmpfs, so they are written to a disk; the report names the
file system). They are removed at the end.

The default run (heap, 100 MB) takes under a minute and about 1.5 GB of memory at
its peak. Larger states are opt-in (--state-size 100MB,1GB): a 1 GB heap state
needs about ten times as much and several minutes; a Pebble state keeps its
entries on disk (next to the checkpoints) and needs little memory. The run sets
Go's soft memory limit to half of the memory available when it starts, so the GC
works harder rather than let garbage grow past it, and refuses a heap state whose
live heap is not expected to fit.`,
		Example: `  eddy bench checkpoint
  eddy bench checkpoint --backend both --state-size 100MB,1GB
  eddy bench checkpoint --backend pebble --state-size 10MB --interval 1s --duration 10s --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			switch backend {
			case "heap", "pebble":
				cfg.Backends = []string{backend}
			case "both":
				cfg.Backends = []string{"heap", "pebble"}
			default:
				return fmt.Errorf("--backend must be heap, pebble or both, got %q", backend)
			}
			cfg.States = nil
			for _, s := range states {
				b, err := checkpointbench.ParseSize(s)
				if err != nil {
					return fmt.Errorf("--state-size: %w", err)
				}
				cfg.States = append(cfg.States, b)
			}
			cfg.Progress = cmd.ErrOrStderr()
			return runBench(cmd, output, func(ctx context.Context) (*checkpointbench.Report, error) { return checkpointbench.Run(ctx, cfg) }, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&backend, "backend", "heap", "state backend: heap, pebble or both")
	f.StringSliceVar(&states, "state-size", states, "state sizes to measure (values only), e.g. 100MB,1GB")
	f.StringSliceVar(&states, "state", states, "state sizes to measure")
	_ = f.MarkDeprecated("state", "use --state-size")
	f.IntVar(&cfg.ValueBytes, "value-bytes", def.ValueBytes, "bytes of each key's value")
	f.DurationVar(&cfg.Interval, "interval", def.Interval, "checkpoint interval")
	f.DurationVar(&cfg.Duration, "duration", def.Duration, "how long the baseline and the checkpointing phase each run after the fill")
	f.IntVar(&cfg.Parallelism, "parallelism", def.Parallelism, "keyed subtasks (default GOMAXPROCS)")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the checkpoints and Pebble state (default: the system temp dir, unless it is tmpfs)")
	f.StringVar(&output, "output", "table", "output format: table or json")
	return cmd
}
