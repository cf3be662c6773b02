package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/bench/streamsbench"
	"github.com/eddy-streams/eddy/internal/natslog"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure eddy on this machine against a baseline run alongside it",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchStreamsCmd(), newBenchNexmarkCmd(), newBenchCheckpointCmd(), newBenchTablesCmd())
	return cmd
}

func newBenchStreamsCmd() *cobra.Command {
	def := streamsbench.DefaultConfig()
	var (
		fsync     []string
		producers []int
		sizes     []int
		modes     []string
		output    string
		withHTTP  bool
	)
	cfg := def
	cmd := &cobra.Command{
		Use:   "streams",
		Short: "Benchmark stream puts and reads against raw JetStream",
		Long: `Benchmark the streams service on an embedded JetStream started in a temporary
directory (no running server is needed), with raw JetStream measured on the same
server in the same run as the baseline.

For each fsync setting × record size × put mode × producer count it reports
acknowledged records/s, MB/s, p50/p99 ack latency per put call, and then how fast
an Iterator per shard reads the stream back. Each fsync setting also runs the HTTP
put endpoint with 500-record batches of 100-byte records (--http=false skips it).
The default run takes about three and a half minutes; --producers 1,4 adds the
figures of a lone producer (about five minutes). Shorten it with --duration and by
narrowing the lists.

The store goes under --dir (default: the system temp dir). Put it on the disk you
deploy on: on tmpfs an fsync costs nothing.`,
		Example: `  eddy bench streams
  eddy bench streams --duration 3s --fsync interval --sizes 100 --modes batch --producers 4
  eddy bench streams --output json > bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			cfg.Fsync = nil
			for _, f := range fsync {
				cfg.Fsync = append(cfg.Fsync, natslog.Fsync(strings.TrimSpace(f)))
			}
			cfg.Modes = nil
			for _, m := range modes {
				cfg.Modes = append(cfg.Modes, streamsbench.Mode(strings.TrimSpace(m)))
			}
			cfg.Producers, cfg.Sizes = producers, sizes
			if !withHTTP {
				cfg.HTTPClients = 0
			}
			cfg.Progress = cmd.ErrOrStderr()
			return runBench(cmd, output, func(ctx context.Context) (*streamsbench.Report, error) { return streamsbench.Run(ctx, cfg) },
				func(rep *streamsbench.Report) bool { return len(rep.Results) == 0 })
		},
	}
	f := cmd.Flags()
	f.DurationVar(&cfg.Duration, "duration", def.Duration, "how long each put case runs")
	f.StringSliceVar(&fsync, "fsync", fsyncStrings(def.Fsync), "fsync settings to compare: always, interval")
	f.DurationVar(&cfg.FsyncInterval, "fsync-interval", def.FsyncInterval, "sync period of the interval setting")
	f.IntSliceVar(&producers, "producers", def.Producers, "numbers of concurrent producers")
	f.IntVar(&cfg.Shards, "shards", def.Shards, "shards per stream")
	f.IntSliceVar(&sizes, "sizes", def.Sizes, "record data sizes in bytes")
	f.StringSliceVar(&modes, "modes", modeStrings(def.Modes), "put modes: single (1 record per put), batch (500 per put)")
	f.IntVar(&cfg.Keys, "keys", def.Keys, "distinct partition keys the producers cycle through")
	f.BoolVar(&withHTTP, "http", true, "also benchmark the HTTP put endpoint")
	f.IntVar(&cfg.HTTPClients, "http-clients", def.HTTPClients, "concurrent clients of the HTTP case")
	f.StringVar(&cfg.Dir, "dir", "", "directory for the temporary stores (default: the system temp dir)")
	f.StringVar(&output, "output", "table", "output format: table or json")
	return cmd
}

func fsyncStrings(fs []natslog.Fsync) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func modeStrings(ms []streamsbench.Mode) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// report is what every bench harness returns.
type report interface {
	WriteTable(w io.Writer) error
	WriteJSON(w io.Writer) error
}

// runBench runs a harness until it ends or the user interrupts it, then prints what it
// measured in the chosen output, also after an interruption or a failure. empty, if not
// nil, says the harness measured nothing worth printing.
func runBench[R interface {
	comparable
	report
}](cmd *cobra.Command, output string, run func(context.Context) (R, error), empty func(R) bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx)
	var none R
	if rep == none || empty != nil && empty(rep) {
		return err
	}
	write := rep.WriteTable
	if output == "json" {
		write = rep.WriteJSON
	}
	if werr := write(cmd.OutOrStdout()); werr != nil {
		return werr
	}
	return err
}
