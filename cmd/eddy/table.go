package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func newTableCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Create and inspect databases and time-series tables on a running eddy server",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	db := &cobra.Command{
		Use:   "db",
		Short: "Create, list, describe and delete databases",
		Args:  cobra.NoArgs,
	}
	db.AddCommand(
		newDatabaseCreateCmd(cf),
		newDatabaseListCmd(cf),
		newDatabaseDescribeCmd(cf),
		newDatabaseDeleteCmd(cf),
	)
	cmd.AddCommand(
		db,
		newTableCreateCmd(cf),
		newTableListCmd(cf),
		newTableDescribeCmd(cf),
		newTableUpdateCmd(cf),
		newTableDeleteCmd(cf),
		newTableWriteCmd(cf),
	)
	return cmd
}

func newDatabaseCreateCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a database",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.CreateDatabase(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printDatabase(cmd.OutOrStdout(), cf, d)
		},
	}
}

func newDatabaseListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List databases",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListDatabases(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListDatabasesResponse{Databases: list})
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tTABLES\tCREATED")
			for _, d := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", d.Name, d.TableCount, fmtTime(d.CreatedAt))
			}
			return tw.Flush()
		},
	}
}

func newDatabaseDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a database",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.DescribeDatabase(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printDatabase(cmd.OutOrStdout(), cf, d)
		},
	}
}

func newDatabaseDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a database that holds no tables",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteDatabase(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted database %s\n", args[0])
			return nil
		},
	}
}

func printDatabase(out io.Writer, cf *clientFlags, d wire.Database) error {
	if cf.json() {
		return writeJSON(out, d)
	}
	tw := newTable(out)
	fmt.Fprintf(tw, "database:\t%s\n", d.Name)
	fmt.Fprintf(tw, "tables:\t%d\n", d.TableCount)
	fmt.Fprintf(tw, "created:\t%s\n", fmtTime(d.CreatedAt))
	return tw.Flush()
}

// tableSettings are the flags of table create and update.
type tableSettings struct {
	memory         time.Duration
	magnetic       string
	magneticWrites bool
}

func (s *tableSettings) add(cmd *cobra.Command, defaults bool) {
	memoryHelp := "how long records stay in the memory tier, in whole hours (1h to 8766h)"
	magneticHelp := "how long records stay in the magnetic tier, in days: 365d or 365 (1 to 73000)"
	if defaults {
		memoryHelp += " (default 6h)"
		magneticHelp += " (default 73000d)"
	}
	cmd.Flags().DurationVar(&s.memory, "memory-retention", 0, memoryHelp)
	cmd.Flags().StringVar(&s.magnetic, "magnetic-retention", "", magneticHelp)
	cmd.Flags().BoolVar(&s.magneticWrites, "magnetic-writes", false, "let writes older than the memory retention go to the magnetic tier instead of failing")
}

// options returns the settings whose flags were given, as the API's pointers.
func (s *tableSettings) options(cmd *cobra.Command) (memoryHours, magneticDays *int, magneticWrites *bool, err error) {
	if cmd.Flags().Changed("memory-retention") {
		if s.memory <= 0 || s.memory%time.Hour != 0 {
			return nil, nil, nil, fmt.Errorf("--memory-retention must be a positive whole number of hours, such as 6h or 48h; got %s", s.memory)
		}
		h := int(s.memory / time.Hour)
		memoryHours = &h
	}
	if cmd.Flags().Changed("magnetic-retention") {
		d, err := strconv.Atoi(strings.TrimSuffix(s.magnetic, "d"))
		if err != nil || d <= 0 {
			return nil, nil, nil, fmt.Errorf("--magnetic-retention must be a positive whole number of days, such as 365d or 365; got %q", s.magnetic)
		}
		magneticDays = &d
	}
	if cmd.Flags().Changed("magnetic-writes") {
		magneticWrites = &s.magneticWrites
	}
	return memoryHours, magneticDays, magneticWrites, nil
}

func newTableCreateCmd(cf *clientFlags) *cobra.Command {
	var s tableSettings
	cmd := &cobra.Command{
		Use:     "create DB TABLE",
		Short:   "Create a table in a database",
		Example: "  eddy table create metrics cpu --memory-retention 12h --magnetic-retention 365d --magnetic-writes",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := wire.CreateTableRequest{Name: args[1]}
			var err error
			if req.MemoryRetentionHours, req.MagneticRetentionDays, req.MagneticWrites, err = s.options(cmd); err != nil {
				return err
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			t, err := c.CreateTable(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printTable(cmd.OutOrStdout(), cf, t)
		},
	}
	s.add(cmd, true)
	return cmd
}

func newTableListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls DB",
		Aliases: []string{"list"},
		Short:   "List the tables of a database",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListTables(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListTablesResponse{Tables: list})
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tMEMORY\tMAGNETIC\tMAGNETIC WRITES\tCREATED\tUPDATED")
			for _, t := range list {
				fmt.Fprintf(tw, "%s\t%dh\t%dd\t%t\t%s\t%s\n", t.Name, t.MemoryRetentionHours, t.MagneticRetentionDays, t.MagneticWrites, fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt))
			}
			return tw.Flush()
		},
	}
}

func newTableDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe DB TABLE",
		Short: "Show a table's settings and the columns it has learned",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			t, err := c.DescribeTable(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return printTable(cmd.OutOrStdout(), cf, t)
		},
	}
}

func newTableUpdateCmd(cf *clientFlags) *cobra.Command {
	var s tableSettings
	cmd := &cobra.Command{
		Use:     "update DB TABLE",
		Short:   "Change a table's retention or magnetic writes",
		Example: "  eddy table update metrics cpu --memory-retention 24h\n  eddy table update metrics cpu --magnetic-writes=false",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req wire.UpdateTableRequest
			var err error
			if req.MemoryRetentionHours, req.MagneticRetentionDays, req.MagneticWrites, err = s.options(cmd); err != nil {
				return err
			}
			if req.MemoryRetentionHours == nil && req.MagneticRetentionDays == nil && req.MagneticWrites == nil {
				return errors.New("nothing to update: give --memory-retention, --magnetic-retention or --magnetic-writes")
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			t, err := c.UpdateTable(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			return printTable(cmd.OutOrStdout(), cf, t)
		},
	}
	s.add(cmd, false)
	return cmd
}

func newTableDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete DB TABLE",
		Short: "Delete a table",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteTable(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted table %s.%s\n", args[0], args[1])
			return nil
		},
	}
}

func printTable(out io.Writer, cf *clientFlags, t wire.Table) error {
	if cf.json() {
		return writeJSON(out, t)
	}
	tw := newTable(out)
	fmt.Fprintf(tw, "database:\t%s\n", t.Database)
	fmt.Fprintf(tw, "table:\t%s\n", t.Name)
	fmt.Fprintf(tw, "memory retention:\t%dh\n", t.MemoryRetentionHours)
	fmt.Fprintf(tw, "magnetic retention:\t%dd\n", t.MagneticRetentionDays)
	fmt.Fprintf(tw, "magnetic writes:\t%t\n", t.MagneticWrites)
	fmt.Fprintf(tw, "created:\t%s\n", fmtTime(t.CreatedAt))
	fmt.Fprintf(tw, "updated:\t%s\n", fmtTime(t.UpdatedAt))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if len(t.Schema.Dimensions) == 0 && len(t.Schema.Measures) == 0 {
		_, err := fmt.Fprintln(out, "no columns yet: the schema is learned from writes")
		return err
	}
	tw = newTable(out)
	fmt.Fprintln(tw, "COLUMN\tKIND\tTYPE")
	for _, d := range t.Schema.Dimensions {
		fmt.Fprintf(tw, "%s\tdimension\tvarchar\n", d)
	}
	for _, m := range t.Schema.Measures {
		fmt.Fprintf(tw, "%s\tmeasure\t%s\n", m.Name, m.Type)
	}
	return tw.Flush()
}
