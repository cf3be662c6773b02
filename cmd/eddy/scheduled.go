package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func newScheduledQueryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "scheduled-query",
		Aliases: []string{"sq"},
		Short:   "Run a SQL query on a schedule and write its rows to a table (rollups, derived tables)",
		Long: "A scheduled query runs a SELECT every interval, with @scheduled_runtime replaced by the invocation\n" +
			"time, and writes its rows to a target table: the time column gives each record its time, the\n" +
			"VARCHAR columns (or --dimensions) its dimensions, every other column a measure. See docs/tables.md.",
		Args: cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newScheduledCreateCmd(cf),
		newScheduledListCmd(cf),
		newScheduledDescribeCmd(cf),
		newScheduledUpdateCmd(cf),
		newScheduledEnableCmd(cf, true),
		newScheduledEnableCmd(cf, false),
		newScheduledRunCmd(cf),
		newScheduledDeleteCmd(cf),
	)
	return cmd
}

func newScheduledCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		query, every, target, timeColumn, measureName string
		dimensions                                    []string
		disabled                                      bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a scheduled query",
		Example: `  eddy scheduled-query create cpu_hourly --every 1h --target metrics.cpu_hourly --query "
    SELECT hostname, bin(time, INTERVAL 1 HOUR) AS time, avg(usage_user) AS mean_usage_user
    FROM metrics.cpu
    WHERE time >= @scheduled_runtime - INTERVAL 1 HOUR AND time < @scheduled_runtime
    GROUP BY ALL"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, table, ok := strings.Cut(target, ".")
			if !ok || db == "" || table == "" {
				return fmt.Errorf("--target must be DATABASE.TABLE, such as metrics.cpu_hourly; got %q", target)
			}
			req := wire.CreateScheduledQueryRequest{
				Name: args[0], Query: query, Schedule: every,
				Target: wire.ScheduledQueryTarget{Database: db, Table: table, TimeColumn: timeColumn, MeasureName: measureName},
			}
			if cmd.Flags().Changed("dimensions") {
				req.Target.Dimensions = append([]string{}, dimensions...)
			}
			if disabled {
				f := false
				req.Enabled = &f
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			q, err := c.CreateScheduledQuery(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printScheduledQuery(cmd.OutOrStdout(), cf, q)
		},
	}
	f := cmd.Flags()
	f.StringVar(&query, "query", "", "the SELECT to run; @scheduled_runtime in it becomes each invocation's time (required)")
	f.StringVar(&every, "every", "", "the schedule: a duration such as 1h or 5m, or rate(1 hour); invocations fall on its multiples since the Unix epoch (required)")
	f.StringVar(&target, "target", "", "the table the rows are written to, as DATABASE.TABLE (split at the first dot; required)")
	f.StringVar(&timeColumn, "time-column", "", "the result's TIMESTAMP column that gives each record its time (default time)")
	f.StringSliceVar(&dimensions, "dimensions", nil, "the result's VARCHAR columns that become dimensions (default: every VARCHAR column)")
	f.StringVar(&measureName, "measure-name", "", "the name of the records written (default: the scheduled query's name)")
	f.BoolVar(&disabled, "disabled", false, "create it disabled: it runs only when asked with run until enabled")
	for _, name := range []string{"query", "every", "target"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func newScheduledListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List scheduled queries and their last runs",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListScheduledQueries(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListScheduledQueriesResponse{ScheduledQueries: list})
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tSCHEDULE\tTARGET\tENABLED\tNEXT\tLAST RUN\tROWS\tSTATUS")
			for _, q := range list {
				next, last, rows, status := "-", "-", "-", "never run"
				if q.NextInvocation != nil {
					next = fmtTime(*q.NextInvocation)
				}
				if r := q.LastRun; r != nil {
					last, rows, status = fmtTime(r.InvocationTime), fmt.Sprint(r.RowsWritten), runStatus(*r)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s.%s\t%t\t%s\t%s\t%s\t%s\n", q.Name, q.Schedule, q.Target.Database, q.Target.Table, q.Enabled, next, last, rows, status)
			}
			return tw.Flush()
		},
	}
}

func newScheduledDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a scheduled query's definition and its last run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			q, err := c.DescribeScheduledQuery(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printScheduledQuery(cmd.OutOrStdout(), cf, q)
		},
	}
}

func newScheduledUpdateCmd(cf *clientFlags) *cobra.Command {
	var query, every string
	cmd := &cobra.Command{
		Use:     "update NAME",
		Short:   "Change a scheduled query's schedule or query",
		Example: "  eddy scheduled-query update cpu_hourly --every 30m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req wire.UpdateScheduledQueryRequest
			if cmd.Flags().Changed("query") {
				req.Query = &query
			}
			if cmd.Flags().Changed("every") {
				req.Schedule = &every
			}
			if req.Query == nil && req.Schedule == nil {
				return errors.New("nothing to update: give --every, --query or both")
			}
			return updateScheduled(cmd, cf, args[0], req)
		},
	}
	cmd.Flags().StringVar(&query, "query", "", "the new SELECT")
	cmd.Flags().StringVar(&every, "every", "", "the new schedule: a duration such as 1h, or rate(1 hour)")
	return cmd
}

func newScheduledEnableCmd(cf *clientFlags, enable bool) *cobra.Command {
	use, short := "enable NAME", "Enable a scheduled query: it runs from its next invocation on (missed ones are backfilled with run)"
	if !enable {
		use, short = "disable NAME", "Disable a scheduled query: the schedule stops running it"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return updateScheduled(cmd, cf, args[0], wire.UpdateScheduledQueryRequest{Enabled: &enable})
		},
	}
}

func updateScheduled(cmd *cobra.Command, cf *clientFlags, name string, req wire.UpdateScheduledQueryRequest) error {
	c, err := cf.connect(cmd)
	if err != nil {
		return err
	}
	q, err := c.UpdateScheduledQuery(cmd.Context(), name, req)
	if err != nil {
		return err
	}
	return printScheduledQuery(cmd.OutOrStdout(), cf, q)
}

func newScheduledRunCmd(cf *clientFlags) *cobra.Command {
	var at string
	cmd := &cobra.Command{
		Use:   "run NAME --at TIME",
		Short: "Run one invocation of a scheduled query now, such as one the schedule missed (backfill)",
		Example: "  eddy scheduled-query run cpu_hourly --at 2026-11-25T10:00:00Z\n" +
			"  for h in 01 02 03; do eddy scheduled-query run cpu_hourly --at 2026-11-25T$h:00:00Z; done",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := time.Parse(time.RFC3339Nano, at)
			if err != nil {
				return fmt.Errorf("--at must be an RFC 3339 time, such as 2026-11-25T10:00:00Z; got %q", at)
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			run, err := c.RunScheduledQuery(cmd.Context(), args[0], t)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				err = writeJSON(out, run)
			} else {
				err = printRun(out, run)
			}
			if err == nil && run.Error != "" {
				err = fmt.Errorf("the run at %s failed: %s", fmtTime(run.InvocationTime), run.Error)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "the invocation time, the value of @scheduled_runtime, in RFC 3339 (required)")
	_ = cmd.MarkFlagRequired("at")
	return cmd
}

func newScheduledDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a scheduled query; the rows it wrote stay in its target table",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteScheduledQuery(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted scheduled query %s\n", args[0])
			return nil
		},
	}
}

func runStatus(r wire.ScheduledQueryRun) string {
	switch {
	case r.Error != "":
		return "failed"
	case r.RowsRejected > 0:
		return fmt.Sprintf("ok, %d rejected", r.RowsRejected)
	}
	return "ok"
}

func printScheduledQuery(out io.Writer, cf *clientFlags, q wire.ScheduledQuery) error {
	if cf.json() {
		return writeJSON(out, q)
	}
	tw := newTable(out)
	fmt.Fprintf(tw, "scheduled query:\t%s\n", q.Name)
	fmt.Fprintf(tw, "schedule:\t%s (every %s)\n", q.Schedule, time.Duration(q.IntervalSeconds)*time.Second)
	fmt.Fprintf(tw, "enabled:\t%t\n", q.Enabled)
	fmt.Fprintf(tw, "target:\t%s.%s\n", q.Target.Database, q.Target.Table)
	fmt.Fprintf(tw, "time column:\t%s\n", q.Target.TimeColumn)
	dims := "every VARCHAR column"
	switch {
	case q.Target.Dimensions == nil:
	case len(q.Target.Dimensions) == 0:
		dims = "none"
	default:
		dims = strings.Join(q.Target.Dimensions, ", ")
	}
	fmt.Fprintf(tw, "dimensions:\t%s\n", dims)
	measureName := q.Target.MeasureName
	if measureName == "" {
		measureName = q.Name
	}
	fmt.Fprintf(tw, "measure name:\t%s\n", measureName)
	if q.NextInvocation != nil {
		fmt.Fprintf(tw, "next invocation:\t%s\n", fmtTime(*q.NextInvocation))
	}
	fmt.Fprintf(tw, "created:\t%s\n", fmtTime(q.CreatedAt))
	fmt.Fprintf(tw, "updated:\t%s\n", fmtTime(q.UpdatedAt))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n\n", strings.TrimSpace(q.Query))
	if q.LastRun == nil {
		_, err := fmt.Fprintln(out, "not run yet")
		return err
	}
	fmt.Fprintln(out, "last run:")
	return printRun(out, *q.LastRun)
}

func printRun(out io.Writer, r wire.ScheduledQueryRun) error {
	tw := newTable(out)
	kind := "scheduled"
	if r.Manual {
		kind = "manual"
	}
	fmt.Fprintf(tw, "invocation time:\t%s (%s)\n", fmtTime(r.InvocationTime), kind)
	fmt.Fprintf(tw, "started:\t%s\n", fmtTime(r.StartedAt))
	fmt.Fprintf(tw, "duration:\t%s\n", time.Duration(r.DurationMillis)*time.Millisecond)
	fmt.Fprintf(tw, "status:\t%s\n", runStatus(r))
	fmt.Fprintf(tw, "rows written:\t%d\n", r.RowsWritten)
	fmt.Fprintf(tw, "rows skipped:\t%d\n", r.RowsSkipped)
	fmt.Fprintf(tw, "rows rejected:\t%d\n", r.RowsRejected)
	for _, why := range r.Rejections {
		fmt.Fprintf(tw, "\t%s\n", why)
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "error:\t%s\n", r.Error)
	}
	return tw.Flush()
}
