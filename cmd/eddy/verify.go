package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/verify"
)

func newVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check eddy's guarantees end to end by running, killing and restarting real servers",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newVerifyExactlyOnceCmd())
	return cmd
}

func newVerifyExactlyOnceCmd() *cobra.Command {
	cfg := verify.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "exactly-once",
		Short: "Kill a server running a checkpointed job with SIGKILL and check its output is exactly-once",
		Long: `Check that a job's output is exactly-once across crashes.

It runs "eddy serve --data-dir D --http-addr 127.0.0.1:0 --checkpoint-interval I"
(the binary given with --binary, by default this one; EDDY_* variables are not
passed on), creates the stream "events" (2 shards) and starts the built-in job
running-count on it, which writes "<key> <n>" to the stream "counts" for the n-th
event of each key, with exactly-once output (records staged in each checkpoint and
put when it completes). A producer puts --events records spread round robin over
--keys partition keys, in batches of 100, retrying a failed batch with the same
producer record ids so the input holds each event once.

While it feeds, the server is killed with SIGKILL --kills times and each time
restarted on the same data dir; the job resumes from its latest checkpoint. The
feeding is cut into --kills + 1 equal shares; kill k is set off at a random event
in the middle of the k-th share, and the producer may not pass the start of the
next share, nor start its last batch, until the kill is done. A kill also waits
until the producer has stored a batch on the server it kills. The kills use three
timings in equal parts (with 10 kills: 4, 3 and 3), in an order drawn from --seed.
The two checkpoint timings watch the job's checkpoint store, the directory
D/checkpoints/counter/chk-<id>/ (see docs/checkpoints.md), every 0.1ms:

  while feeding       within 10ms of the set-off event, while the producer is
                      putting records or between two puts
  right after a       as soon as the next checkpoint's _metadata marker exists:
  checkpoint          the checkpoint is complete and durable, and the sink has
  completed           most likely not yet committed (put) the output records it
                      staged in it, so the restarted job must commit them, once
  inside a            as soon as the next checkpoint's first snapshot file
  checkpoint          exists: the checkpoint is in progress and never completes,
                      so the restarted job must resume from the one before

The verdict's kills line says how many kills hit their moment: how many left a
checkpoint incomplete in the store (snapshot files, no _metadata), and how many of
the kills right after a checkpoint came before its commit (every output record of
that checkpoint's transactions arrived after the kill, by the producer record ids
and arrival times).

Once every event is stored it waits until the output holds as many records as
events, then 3 checkpoint intervals and 0.5s more for late duplicates (or until
the output has not grown for 30s), reads the whole output and checks that each
key holds the counts 1..n exactly once. It prints progress to stderr and the
verdict to stdout, and exits with status 1 on FAIL, keeping the data dir.

--job running-count-kafka runs the same count with the exactly-once Kafka sink:
verify starts an in-process Kafka cluster (kfake) on 127.0.0.1 with the topic
"counts" and the sink's commit log "counts-commit-log", the job writes its counts
there (each checkpoint's records in one Kafka transaction with a commit-log
marker), and the output is read with a read_committed consumer. A kill right
after a checkpoint counts as before its commit when every commit-log marker of
that checkpoint was produced after the kill. The cluster stops when verify ends.

--job sliding-count, session-count or interval-join runs a job timed by the
records' arrival instead: sliding-count (window 1s, slide 250ms) and session-count
(gap 300ms) read "events" and write "<key> <windowStart> <count>" and "<key>
<sessionStart> <sessionEnd> <count>"; interval-join reads "left" and "right" (the
events alternate between them a round of keys at a time) and writes "<key>
<leftSeq> <rightSeq>" for right arrivals in [left-10ms, left+20ms]. A window
span after the last event it puts an "eddy:watermark" record into every shard,
which the job drops once it has moved event time past every window. Then it
reads the input back, computes the expected lines by brute force, and the output
must hold each exactly once and nothing else.`,
		Example: `  eddy verify exactly-once
  eddy verify exactly-once --kills 20 --events 100000 --checkpoint-interval 100ms
  eddy verify exactly-once --job session-count --events 8000
  eddy verify exactly-once --job running-count-kafka`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Binary == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find this eddy binary (pass --binary): %w", err)
				}
				cfg.Binary = exe
			}
			cfg.Log = cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			rep, err := verify.ExactlyOnce(ctx, cfg)
			if err != nil && rep.DataDir != "" {
				return fmt.Errorf("%w\n(the servers' data dir is kept in %s)", err, rep.DataDir)
			}
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), rep)
			if !rep.Pass {
				return errors.New("the job's output is not exactly-once")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Kills, "kills", cfg.Kills, "how many times to kill the server with SIGKILL")
	f.IntVar(&cfg.Events, "events", cfg.Events, "how many events to feed the job")
	f.IntVar(&cfg.Keys, "keys", cfg.Keys, "how many partition keys the events are spread over")
	f.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval, "the servers' --checkpoint-interval")
	f.StringVar(&cfg.Job, "job", cfg.Job, "built-in job to run: "+strings.Join(verify.Jobs, ", "))
	f.StringVar(&cfg.Binary, "binary", "", "eddy binary to run as the server (default: this one)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "the servers' data dir, which must not hold an earlier run (default: a temporary directory, removed after a PASS)")
	f.Uint64Var(&cfg.Seed, "seed", 0, "seed of the kill schedule, to repeat a run's (default: random)")
	return cmd
}
