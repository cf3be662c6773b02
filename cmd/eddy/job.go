package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Start, inspect and stop stream-processing jobs on a running eddy server",
		Long: `Start, inspect and stop stream-processing jobs on a running eddy server.
A job is an instance of a built-in job (one compiled into the server; see
'eddy job builtins') running under a name you choose. A job runs until it is
stopped: when the server restarts, the jobs it was running start again from
their latest checkpoint ('eddy job checkpoints').`,
		Args: cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newJobBuiltinsCmd(cf),
		newJobStartCmd(cf),
		newJobListCmd(cf),
		newJobDescribeCmd(cf),
		newJobCheckpointsCmd(cf),
		newJobStopCmd(cf),
		newJobSavepointCmd(cf),
	)
	return cmd
}

func newJobBuiltinsCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "builtins",
		Short: "List the built-in jobs the server can start, with their arguments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListBuiltins(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListBuiltinsResponse{Builtins: list})
			}
			for i, b := range list {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "%s: %s\n", b.Name, b.Description)
				tw := newTable(out)
				fmt.Fprintln(tw, "  ARG\tDEFAULT\tHELP")
				for _, a := range b.Args {
					def := a.Default
					switch {
					case a.Required:
						def = "(required)"
					case def == "":
						def = "-"
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\n", a.Name, def, a.Help)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func newJobStartCmd(cf *clientFlags) *cobra.Command {
	var (
		builtin   string
		args      []string
		savepoint string
	)
	cmd := &cobra.Command{
		Use:   "start NAME --builtin BUILTIN [--arg KEY=VALUE ...]",
		Short: "Start a built-in job under a name",
		Long: `Start a built-in job under a name. Give each argument of the built-in job
with --arg KEY=VALUE; 'eddy job builtins' lists them with their defaults. The
name is free again once the job has stopped.`,
		Example: "  eddy job start click-counts --builtin window-count --arg from=clicks --arg to=click-counts --arg window=1m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			req := wire.StartJobRequest{Name: names[0], Builtin: builtin, Args: map[string]string{}, FromSavepoint: savepoint}
			for _, a := range args {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("--arg %q must be KEY=VALUE", a)
				}
				if _, dup := req.Args[k]; dup {
					return fmt.Errorf("--arg %s is given twice", k)
				}
				req.Args[k] = v
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.StartJob(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printJob(cmd.OutOrStdout(), cf, d)
		},
	}
	cmd.Flags().StringVar(&builtin, "builtin", "", "built-in job to run (see 'eddy job builtins')")
	cmd.Flags().StringArrayVar(&args, "arg", nil, "argument of the built-in job as KEY=VALUE; repeat for each")
	cmd.Flags().StringVar(&savepoint, "from-savepoint", "", "start from this savepoint ('eddy job savepoint' prints it), e.g. at another --arg parallelism")
	_ = cmd.MarkFlagRequired("builtin")
	return cmd
}

func newJobSavepointCmd(cf *clientFlags) *cobra.Command {
	var stop bool
	cmd := &cobra.Command{
		Use:   "savepoint NAME [--stop]",
		Short: "Take a savepoint of a running job (and stop it with --stop)",
		Long: `Take a savepoint: a checkpoint taken now and kept until you delete it. Start the
same built-in job from it with 'eddy job start --from-savepoint PATH', also at
another parallelism: keyed state is redistributed by key group.`,
		Example: `  eddy job savepoint counter --stop
  eddy job start counter --builtin running-count --arg from=clicks --arg to=counts --arg parallelism=4 --from-savepoint counter/savepoints/00000000000000000042/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			path, err := c.Savepoint(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if stop {
				if _, err := c.StopJob(cmd.Context(), args[0]); err != nil {
					return fmt.Errorf("savepoint %s taken, but stopping the job failed: %w", path, err)
				}
			}
			if cf.json() {
				return writeJSON(cmd.OutOrStdout(), wire.SavepointResponse{Savepoint: path})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), path)
			return err
		},
	}
	cmd.Flags().BoolVar(&stop, "stop", false, "stop the job after the savepoint")
	return cmd
}

func newJobListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the jobs the server has run since it started",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListJobs(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListJobsResponse{Jobs: list})
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tBUILTIN\tSTATE\tSTARTED\tOPERATORS\tRECORDS IN\tRECORDS OUT")
			for _, j := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", j.Name, j.Builtin, j.State, fmtTime(j.Started), j.Operators, j.RecordsIn, j.RecordsOut)
			}
			return tw.Flush()
		},
	}
}

func newJobDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a job's state, graph and what each operator subtask is doing",
		Long: `Show a job's state, arguments and graph, then one row per operator subtask:
records in and out, records per second since the server's previous look at the
job (at least a second earlier), how far its event-time watermark lags the wall
clock, the share of that time it was busy and backpressured (waiting for a full
downstream channel), and the state entries it holds.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.DescribeJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJob(cmd.OutOrStdout(), cf, d)
		},
	}
}

func newJobCheckpointsCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoints NAME",
		Short: "List the checkpoints a job has completed, newest first",
		Long: `List the checkpoints the job's current run has completed, newest first (at
most the last 100): when each was triggered, how long it took to complete, the
longest any subtask stopped processing to take its snapshot, and the size of
the snapshots. A restart resumes from the newest.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListCheckpoints(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, list)
			}
			if len(list.Checkpoints) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "job %s has completed no checkpoint yet\n", args[0])
				return nil
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "ID\tTRIGGERED\tDURATION\tMAX PAUSE\tSIZE")
			for _, cp := range list.Checkpoints {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", cp.ID, cp.Triggered.UTC().Format(timeMillis),
					fmtMillis(cp.DurationMillis), fmtMillis(cp.MaxPauseMillis), fmtSize(cp.Bytes))
			}
			return tw.Flush()
		},
	}
}

func newJobStopCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a job and wait until it has stopped",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.StopJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJob(cmd.OutOrStdout(), cf, d)
		},
	}
}

// printJob prints a job description: a block of settings, the graph, then a table of
// operator subtasks.
func printJob(out io.Writer, cf *clientFlags, d wire.JobDescription) error {
	if cf.json() {
		return writeJSON(out, d)
	}
	keys := make([]string, 0, len(d.Args))
	for k := range d.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := make([]string, len(keys))
	for i, k := range keys {
		args[i] = k + "=" + d.Args[k]
	}
	tw := newTable(out)
	fmt.Fprintf(tw, "job:\t%s\n", d.Name)
	fmt.Fprintf(tw, "builtin:\t%s\n", d.Builtin)
	fmt.Fprintf(tw, "state:\t%s\n", d.State)
	if d.Restarts > 0 {
		fmt.Fprintf(tw, "restarts:\t%d\n", d.Restarts)
	}
	fmt.Fprintf(tw, "started:\t%s\n", fmtTime(d.Started))
	fmt.Fprintf(tw, "finished:\t%s\n", fmtTime(d.Finished))
	if d.Error != "" {
		fmt.Fprintf(tw, "error:\t%s\n", d.Error)
	}
	fmt.Fprintf(tw, "args:\t%s\n", strings.Join(args, " "))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(out, "\noperators:")
	tw = newTable(out)
	for _, op := range d.Operators {
		chained := "-"
		if len(op.Chained) > 0 {
			chained = strings.Join(op.Chained, ", ")
		}
		fmt.Fprintf(tw, "  %s\tparallelism %d\tchained: %s\n", op.Name, op.Parallelism, chained)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Edges) > 0 {
		fmt.Fprintln(out, "edges:")
		tw = newTable(out)
		for _, e := range d.Edges {
			fmt.Fprintf(tw, "  %s -> %s\t%s\n", e.From, e.To, e.Partitioning)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(d.Operators) == 0 || len(d.Operators[0].Subtasks) == 0 {
		return nil // not running yet: no subtasks to show
	}
	fmt.Fprintln(out)
	tw = newTable(out)
	fmt.Fprintln(tw, "OPERATOR\tSUBTASK\tIN\tOUT\tIN/S\tOUT/S\tWATERMARK LAG\tBUSY\tBACKPRESSURED\tSTATE ENTRIES")
	for _, op := range d.Operators {
		for _, s := range op.Subtasks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\n", op.Name, s.Index, s.RecordsIn, s.RecordsOut,
				fmtRate(s.RecordsInPerSecond), fmtRate(s.RecordsOutPerSecond), fmtLag(s), fmtPercent(s.BusyFraction), fmtPercent(s.BackpressuredFraction), s.StateEntries)
		}
	}
	return tw.Flush()
}

func fmtRate(perSecond float64) string { return strconv.FormatFloat(perSecond, 'f', 1, 64) }

func fmtPercent(fraction float64) string { return strconv.FormatFloat(fraction*100, 'f', 0, 64) + "%" }

// timeMillis is RFC 3339 to the millisecond: checkpoints can be less than a second apart.
const timeMillis = "2006-01-02T15:04:05.000Z07:00"

func fmtMillis(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() }

// fmtSize prints a byte count in the largest binary unit it reaches, to one decimal.
func fmtSize(b int64) string {
	if b < 1024 {
		return strconv.FormatInt(b, 10) + " B"
	}
	v, unit := float64(b)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// fmtLag prints a subtask's watermark lag to the millisecond, "ended" once its input
// has, and "-" before its first watermark.
func fmtLag(s wire.Subtask) string {
	switch {
	case s.InputEnded:
		return "ended"
	case s.WatermarkLagMillis == nil:
		return "-"
	}
	return (time.Duration(*s.WatermarkLagMillis) * time.Millisecond).String()
}
