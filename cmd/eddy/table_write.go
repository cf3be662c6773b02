package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// writeBatchBytes bounds the body of one write from NDJSON, well below the server's
// 64 MiB.
const writeBatchBytes = 16 << 20

func newTableWriteCmd(cf *clientFlags) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "write DB TABLE [--file F|-]",
		Short: "Write records to a table from a JSON write body or NDJSON",
		Long: `Write records to a table. The input (standard input, or --file) is either a
JSON write body, {"common": {...}, "records": [...]} with up to 10,000 records,
sent as it is, or NDJSON: one record object per line, sent in writes of 10,000.

A record: {"time": 1764000000000, "dimensions": {"host": "a"},
"measureName": "cpu", "measures": {"usage": 58, "cores": {"type": "bigint",
"value": 8}}}, or "value" instead of "measures" for a single measure. A plain
number is a double, a string a varchar, true or false a boolean; time is in
milliseconds unless "timeUnit" says otherwise, or an RFC 3339 string.

It prints how many records were stored and each rejected one: its index (from 0,
in the input's records or non-blank lines), its line for NDJSON, code and reason.
Rejections do not stop the other records. The exit status is non-zero if any
record was rejected.`,
		Example: `  eddy table write metrics cpu --file cpu.json
  printf '%s\n' '{"time":"2026-11-25T10:00:00Z","dimensions":{"host":"a"},"measureName":"cpu","value":58}' | eddy table write metrics cpu`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := cmd.InOrStdin()
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			tw := &tableWriter{cmd: cmd, c: c, db: args[0], table: args[1]}
			tw.out.RejectedRecords = []wire.RejectedRecord{}
			if err := tw.write(bufio.NewReaderSize(in, 1<<20)); err != nil {
				return err
			}
			return tw.print(cf)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "-", "file holding the records; - for standard input")
	return cmd
}

// tableWriter sends a table's records and adds up the results.
type tableWriter struct {
	cmd       *cobra.Command
	c         *client.Client
	db, table string
	ndjson    bool

	// The batch being collected from NDJSON: the body so far, and each record's line.
	body  []byte
	lines []int

	sent int // records sent in earlier writes
	out  wire.WriteRecordsResponse
	// rejectedLines holds the line of each rejection in out, for NDJSON.
	rejectedLines []int
}

// write reads the input and sends it: as one write body, or as batches of its lines.
func (tw *tableWriter) write(in *bufio.Reader) error {
	line := 0
	var first []byte
	var err error
	for len(bytes.TrimSpace(first)) == 0 && err == nil {
		first, err = in.ReadBytes('\n')
		line++
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("read the records: %w", err)
	}
	if len(bytes.TrimSpace(first)) == 0 {
		return errors.New("no records: the input is empty")
	}
	if !isRecordLine(first) {
		rest, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("read the records: %w", err)
		}
		return tw.send(append(first, rest...), nil)
	}
	tw.ndjson = true
	for {
		if rec := bytes.TrimSpace(first); len(rec) > 0 {
			if err := tw.add(line, rec); err != nil {
				return err
			}
		}
		if err == io.EOF {
			break
		}
		first, err = in.ReadBytes('\n')
		line++
		if err != nil && err != io.EOF {
			return fmt.Errorf("read the records: %w", err)
		}
	}
	return tw.flush()
}

// isRecordLine reports whether line is a record of NDJSON rather than the start of a
// write body: a whole JSON object without the body's fields.
func isRecordLine(line []byte) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(line, &fields) != nil {
		return false
	}
	_, records := fields["records"]
	_, common := fields["common"]
	return !records && !common
}

// add batches the record on line n.
func (tw *tableWriter) add(n int, rec []byte) error {
	if !json.Valid(rec) || rec[0] != '{' {
		return tw.failed(fmt.Errorf("line %d is not a JSON object: each line of NDJSON is one record", n))
	}
	if len(tw.lines) == tables.MaxRecordsPerWrite || len(tw.lines) > 0 && len(tw.body)+len(rec) > writeBatchBytes {
		if err := tw.flush(); err != nil {
			return err
		}
	}
	if len(tw.lines) == 0 {
		tw.body = append(tw.body[:0], `{"records":[`...)
	} else {
		tw.body = append(tw.body, ',')
	}
	tw.body = append(tw.body, rec...)
	tw.lines = append(tw.lines, n)
	return nil
}

func (tw *tableWriter) flush() error {
	if len(tw.lines) == 0 {
		return nil
	}
	err := tw.send(append(tw.body, "]}"...), tw.lines)
	tw.lines = tw.lines[:0]
	return err
}

// recordRef and byteOffset find what a server's message says about a record of a batch.
var (
	recordRef  = regexp.MustCompile(`^records\[(\d+)\]\.?`)
	byteOffset = regexp.MustCompile(` \(byte offset \d+\)$`)
)

// send writes one body, whose records are on lines (nil for a write body as given).
func (tw *tableWriter) send(body []byte, lines []int) error {
	res, err := tw.c.WriteRecordsJSON(tw.cmd.Context(), tw.db, tw.table, body)
	if err != nil {
		var e *apierr.Error
		if lines != nil && errors.As(err, &e) {
			// The server names records of this batch and byte offsets in it; say lines.
			msg := byteOffset.ReplaceAllString(e.Message, "")
			if m := recordRef.FindStringSubmatch(msg); m != nil {
				if i, _ := strconv.Atoi(m[1]); i < len(lines) {
					msg = fmt.Sprintf("line %d: %s", lines[i], msg[len(m[0]):])
				}
			}
			err = &apierr.Error{Kind: e.Kind, Code: e.Code, Message: msg}
		}
		return tw.failed(err)
	}
	tw.out.RecordsIngested.Total += res.RecordsIngested.Total
	tw.out.RecordsIngested.MemoryStore += res.RecordsIngested.MemoryStore
	tw.out.RecordsIngested.MagneticStore += res.RecordsIngested.MagneticStore
	tw.out.Unchanged += res.Unchanged
	for _, r := range res.RejectedRecords {
		if lines != nil && r.Index < len(lines) {
			tw.rejectedLines = append(tw.rejectedLines, lines[r.Index])
		}
		r.Index += tw.sent
		tw.out.RejectedRecords = append(tw.out.RejectedRecords, r)
	}
	tw.sent += res.RecordsIngested.Total + res.Unchanged + len(res.RejectedRecords)
	return nil
}

// failed adds to err what earlier writes already stored.
func (tw *tableWriter) failed(err error) error {
	if tw.sent == 0 {
		return err
	}
	return fmt.Errorf("%w (the %d records before it were sent: %d stored, %d unchanged, %d rejected)",
		err, tw.sent, tw.out.RecordsIngested.Total, tw.out.Unchanged, len(tw.out.RejectedRecords))
}

// print prints the outcome, and fails if any record was rejected.
func (tw *tableWriter) print(cf *clientFlags) error {
	out := tw.cmd.OutOrStdout()
	o := tw.out
	if cf.json() {
		if err := writeJSON(out, o); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "wrote %d records to %s.%s: %d stored (memory %d, magnetic %d), %d unchanged, %d rejected\n",
			tw.sent, tw.db, tw.table, o.RecordsIngested.Total, o.RecordsIngested.MemoryStore, o.RecordsIngested.MagneticStore,
			o.Unchanged, len(o.RejectedRecords))
		if len(o.RejectedRecords) > 0 {
			t := newTable(out)
			if tw.ndjson {
				fmt.Fprintln(t, "INDEX\tLINE\tCODE\tREASON")
			} else {
				fmt.Fprintln(t, "INDEX\tCODE\tREASON")
			}
			for i, r := range o.RejectedRecords {
				reason := r.Reason
				if r.ExistingVersion != 0 {
					reason += fmt.Sprintf(" (existing version %d)", r.ExistingVersion)
				}
				if tw.ndjson && i < len(tw.rejectedLines) {
					fmt.Fprintf(t, "%d\t%d\t%s\t%s\n", r.Index, tw.rejectedLines[i], r.Code, reason)
				} else {
					fmt.Fprintf(t, "%d\t%s\t%s\n", r.Index, r.Code, reason)
				}
			}
			if err := t.Flush(); err != nil {
				return err
			}
		}
	}
	if n := len(o.RejectedRecords); n > 0 {
		return fmt.Errorf("%d of %d records were rejected", n, tw.sent)
	}
	return nil
}
