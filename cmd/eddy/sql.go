package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

func newSQLCmd() *cobra.Command {
	var (
		command  string
		timeout  time.Duration
		pageSize int
	)
	cmd := &cobra.Command{
		Use:   "sql",
		Short: "Query tables with SQL: one query (-c), an interactive shell, or statements from stdin",
		Long: `Query the tables of a running eddy server with SQL (DuckDB's dialect, read-only).
A table is database.table: SELECT * FROM fleet.readings. SHOW DATABASES, SHOW TABLES
[FROM db] and DESCRIBE db.table show what there is.

With -c, run one query and print its whole result. Otherwise, when stdin is a terminal,
start a shell: statements end with ';' and may span lines, arrow keys recall history
(kept in ~/.eddy_history), Ctrl-C during a query cancels it, and \q, \dt [db], \timing
and \? are meta-commands. When stdin is not a terminal, run the ';'-separated statements
it holds, report each failure and go on; the exit status says whether any failed.

--output table aligns columns under a header with a row count; csv prints a header
line and RFC 4180 rows; json prints one JSON object per row (newline-delimited), with
the values of the HTTP API (timestamps as RFC 3339 strings, exact numbers).`,
		Example: `  eddy sql -c 'SHOW DATABASES'
  eddy sql -c 'SELECT host, avg(cpu) FROM fleet.readings GROUP BY host' --output csv
  echo 'SHOW TABLES; DESCRIBE fleet.readings;' | eddy sql
  eddy sql`,
		Args: cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cf.formats = []string{"table", "csv", "json"}
	cmd.PersistentFlags().Lookup("output").Usage = "output format: table, csv or json (one object per line)"
	cmd.Flags().StringVarP(&command, "command", "c", "", "run this query, print all its pages and exit")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop a query that runs longer (default: the server's, 60s)")
	cmd.Flags().IntVar(&pageSize, "page-size", 0, "rows fetched per request (default: the server's, 1000)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.connect(cmd)
		if err != nil {
			return err
		}
		sh := &sqlShell{c: c, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), format: cf.output, timeout: timeout, pageSize: pageSize}
		ctx := cmd.Context()
		if cmd.Flags().Changed("command") {
			return sh.query(ctx, command)
		}
		if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return sh.interactive(ctx, f)
		}
		return sh.script(ctx, cmd.InOrStdin())
	}
	return cmd
}

// sqlShell runs statements against a server and prints their results.
type sqlShell struct {
	c        *client.Client
	out      io.Writer
	errOut   io.Writer
	format   string
	timeout  time.Duration
	pageSize int
	timing   bool
}

// query runs q and prints every page of its result.
func (sh *sqlShell) query(ctx context.Context, q string) error {
	start := time.Now()
	res, err := sh.c.Query(ctx, wire.QueryRequest{Query: q, TimeoutMillis: sh.timeout.Milliseconds(), PageSize: sh.pageSize})
	if err != nil {
		return err
	}
	p := newResultPrinter(sh.format, sh.out, res.Columns)
	for {
		if err := p.rows(res.Rows); err != nil {
			return err
		}
		if res.NextToken == "" {
			break
		}
		next, err := sh.c.NextPage(ctx, res.NextToken)
		if err != nil {
			if ctx.Err() != nil {
				// Free the result the server holds open for us.
				cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = sh.c.CancelQuery(cctx, res.QueryID)
				cancel()
			}
			return err
		}
		res = next
	}
	if err := p.end(); err != nil {
		return err
	}
	if sh.timing {
		fmt.Fprintf(sh.out, "Time: %.3f ms\n", float64(time.Since(start).Microseconds())/1000)
	}
	return nil
}

// statement runs one statement or meta-command of the shell or a script. It reports a
// failure on errOut and returns false; quit says \q was given.
func (sh *sqlShell) statement(ctx context.Context, stmt string) (ok, quit bool) {
	if meta, ok := strings.CutPrefix(stmt, `\`); ok {
		return sh.meta(ctx, strings.Fields(meta))
	}
	if err := sh.query(ctx, stmt); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(sh.errOut, "cancelled")
		} else {
			printSQLError(sh.errOut, err)
		}
		return false, false
	}
	return true, false
}

func (sh *sqlShell) meta(ctx context.Context, args []string) (ok, quit bool) {
	if len(args) == 0 {
		args = []string{"?"}
	}
	switch args[0] {
	case "q":
		return true, true
	case "dt":
		q := "SHOW TABLES"
		if len(args) > 1 {
			q += " FROM " + args[1]
		}
		return sh.statement(ctx, q)
	case "timing":
		sh.timing = !sh.timing
		state := "off"
		if sh.timing {
			state = "on"
		}
		fmt.Fprintf(sh.out, "Timing is %s.\n", state)
		return true, false
	case "?":
		fmt.Fprint(sh.out, `\q          quit (or Ctrl-D)
\dt [db]    list tables, of one database or of all
\timing     print how long each query takes (toggle)
\?          this help
End a statement with ';'. Ctrl-C while a query runs cancels it.
`)
		return true, false
	}
	fmt.Fprintf(sh.errOut, "unknown meta-command \\%s; \\? lists them\n", args[0])
	return false, false
}

// printSQLError prints an API error as its code and message.
func printSQLError(w io.Writer, err error) {
	if e, ok := apierr.As(err); ok {
		fmt.Fprintf(w, "ERROR %s: %s\n", e.Code, e.Message)
		return
	}
	fmt.Fprintf(w, "ERROR: %v\n", err)
}

// script runs the statements in r, going on after a failure.
func (sh *sqlShell) script(ctx context.Context, r io.Reader) error {
	var pending statementBuffer
	var stmts []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		stmts = append(stmts, pending.add(sc.Text())...)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read statements: %w", err)
	}
	if last := pending.rest(); last != "" {
		stmts = append(stmts, last)
	}
	failed := 0
	for _, s := range stmts {
		ok, quit := sh.statement(ctx, s)
		if !ok {
			failed++
		}
		if quit || ctx.Err() != nil {
			break
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d statements failed", failed, len(stmts))
	}
	return nil
}

// interactive runs the shell on a terminal.
func (sh *sqlShell) interactive(ctx context.Context, in *os.File) error {
	fd := int(in.Fd())
	history := openHistory(historyPath(), 1000)
	defer history.close()
	// The terminal is raw while a line is edited and normal while a query runs, so
	// that Ctrl-C then cancels the query.
	rw := struct {
		io.Reader
		io.Writer
	}{in, sh.out}
	t := term.NewTerminal(rw, "eddy> ")
	t.History = history
	fmt.Fprintf(sh.out, "eddy sql: end statements with ';', \\? for help, \\q to quit.\n")
	var pending statementBuffer
	for {
		if !pending.open() {
			t.SetPrompt("eddy> ")
		} else {
			t.SetPrompt("   -> ")
		}
		state, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		if w, h, err := term.GetSize(fd); err == nil && w > 0 {
			_ = t.SetSize(w, h)
		}
		line, err := t.ReadLine()
		_ = term.Restore(fd, state)
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(sh.out)
			return nil
		}
		if err != nil && !errors.Is(err, term.ErrPasteIndicator) {
			return err
		}
		for _, s := range pending.add(line) {
			qctx, stop := signal.NotifyContext(ctx, os.Interrupt)
			_, quit := sh.statement(qctx, s)
			stop()
			if quit {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// statementBuffer collects statements from lines. A line that starts with '\' while
// no statement is open is a meta-command, a statement of its own.
type statementBuffer struct {
	buf strings.Builder
}

// add takes a line and returns the statements it completes.
func (b *statementBuffer) add(line string) []string {
	if !b.open() && strings.HasPrefix(strings.TrimSpace(line), `\`) {
		return []string{strings.TrimSpace(line)}
	}
	b.buf.WriteString(line)
	b.buf.WriteByte('\n')
	stmts, rest := splitStatements(b.buf.String())
	b.buf.Reset()
	if strings.TrimSpace(stripSQLComments(rest)) != "" {
		b.buf.WriteString(rest)
	}
	return stmts
}

// open reports whether a statement has begun and not ended.
func (b *statementBuffer) open() bool { return b.buf.Len() > 0 }

// rest returns the unfinished statement, trimmed.
func (b *statementBuffer) rest() string { return strings.TrimSpace(b.buf.String()) }

// splitStatements cuts the statements ended by ';' out of s, outside quotes and
// comments, and returns them trimmed, without their ';', and the unfinished rest.
func splitStatements(s string) (stmts []string, rest string) {
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			// A doubled quote inside is an escaped one: the scan leaves and re-enters.
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return stmts, s[start:]
			}
			i += j + 1
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return stmts, s[start:]
			}
			i += j
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return stmts, s[start:]
			}
			i += j + 3
		case c == ';':
			if stmt := strings.TrimSpace(s[start:i]); strings.TrimSpace(stripSQLComments(stmt)) != "" {
				stmts = append(stmts, stmt)
			}
			start = i + 1
		}
	}
	return stmts, s[start:]
}

// stripSQLComments drops the -- and /* */ comments of s outside quotes.
func stripSQLComments(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			b.WriteString(s[i : i+j+2])
			i += j + 1
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return b.String()
			}
			i += j - 1
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			i += j + 3
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
