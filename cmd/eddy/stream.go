package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/streams"
)

func newStreamCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "Create, inspect, write to and tail streams on a running eddy server",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.AddCommand(
		newStreamCreateCmd(cf),
		newStreamListCmd(cf),
		newStreamDescribeCmd(cf),
		newStreamUpdateCmd(cf),
		newStreamPutCmd(cf),
		newStreamTailCmd(cf),
		newStreamDeleteCmd(cf),
	)
	return cmd
}

func newStreamCreateCmd(cf *clientFlags) *cobra.Command {
	var (
		shards    int
		retention time.Duration
	)
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a stream",
		Example: "  eddy stream create payments --shards 4 --retention 168h",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			hours, err := retentionHours(retention)
			if err != nil {
				return err
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.CreateStream(cmd.Context(), wire.CreateStreamRequest{Name: args[0], Shards: shards, RetentionHours: hours})
			if err != nil {
				return err
			}
			return printDescription(cmd.OutOrStdout(), cf, d)
		},
	}
	cmd.Flags().IntVar(&shards, "shards", 1, "number of shards")
	cmd.Flags().DurationVar(&retention, "retention", streams.DefaultRetention, "how long records are kept, in whole hours (24h to 8760h)")
	return cmd
}

// retentionHours converts a --retention value to the API's whole hours.
func retentionHours(d time.Duration) (int, error) {
	if d <= 0 || d%time.Hour != 0 {
		return 0, fmt.Errorf("--retention must be a positive whole number of hours, such as 24h or 168h; got %s", d)
	}
	return int(d / time.Hour), nil
}

func newStreamListCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List streams",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			list, err := c.ListStreams(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if cf.json() {
				return writeJSON(out, wire.ListStreamsResponse{Streams: list})
			}
			tw := newTable(out)
			fmt.Fprintln(tw, "NAME\tSHARDS\tRETENTION\tCREATED")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%d\t%dh\t%s\n", s.Name, s.OpenShards, s.RetentionHours, fmtTime(s.Created))
			}
			return tw.Flush()
		},
	}
}

func newStreamDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a stream's settings, shards and what it holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.DescribeStream(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printDescription(cmd.OutOrStdout(), cf, d)
		},
	}
}

func printDescription(out io.Writer, cf *clientFlags, d wire.StreamDescription) error {
	if cf.json() {
		return writeJSON(out, d)
	}
	tw := newTable(out)
	fmt.Fprintf(tw, "stream:\t%s\n", d.Name)
	fmt.Fprintf(tw, "retention:\t%dh\n", d.RetentionHours)
	fmt.Fprintf(tw, "created:\t%s\n", fmtTime(d.Created))
	fmt.Fprintf(tw, "open shards:\t%d\n", d.OpenShards)
	fmt.Fprintf(tw, "records:\t%d\n", d.Records)
	fmt.Fprintf(tw, "bytes:\t%d\n", d.Bytes)
	fmt.Fprintf(tw, "oldest:\t%s\n", fmtTime(d.Oldest))
	fmt.Fprintf(tw, "newest:\t%s\n", fmtTime(d.Newest))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	tw = newTable(out)
	fmt.Fprintln(tw, "SHARD\tSTATE\tRECORDS\tOLDEST\tNEWEST\tHASH KEYS\tPARENTS")
	for _, s := range d.Shards {
		state := "open"
		if s.Closed {
			state = "closed"
		}
		parents := strings.Join(s.Parents, ",")
		if parents == "" {
			parents = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s-%s\t%s\n", s.ID, state, s.Records, fmtTime(s.Oldest), fmtTime(s.Newest), s.HashKeyStart, s.HashKeyEnd, parents)
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newStreamUpdateCmd(cf *clientFlags) *cobra.Command {
	var (
		shards    int
		retention time.Duration
	)
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a stream's retention or shard count",
		Long: `Change a stream's retention or shard count. Shortening the retention drops the
records outside the new window. Changing the shard count closes the open shards
and opens new ones that split the hash keys evenly; the closed shards stay
readable until their records expire.`,
		Example: "  eddy stream update payments --shards 8\n  eddy stream update payments --retention 72h",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req wire.UpdateStreamRequest
			if cmd.Flags().Changed("retention") {
				hours, err := retentionHours(retention)
				if err != nil {
					return err
				}
				req.RetentionHours = &hours
			}
			if cmd.Flags().Changed("shards") {
				req.Shards = &shards
			}
			if req.RetentionHours == nil && req.Shards == nil {
				return errors.New("nothing to update: give --retention, --shards or both")
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			d, err := c.UpdateStream(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printDescription(cmd.OutOrStdout(), cf, d)
		},
	}
	cmd.Flags().IntVar(&shards, "shards", 0, "new number of open shards")
	cmd.Flags().DurationVar(&retention, "retention", 0, "new retention, in whole hours")
	return cmd
}

func newStreamDeleteCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a stream and all its records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteStream(cmd.Context(), args[0]); err != nil {
				return err
			}
			if !cf.json() {
				fmt.Fprintf(cmd.OutOrStdout(), "deleted stream %s\n", args[0])
			}
			return nil
		},
	}
}

// putBatchBytes bounds the keys and data of one put the CLI sends, keeping the request
// (data in base64) well inside the server's 8 MiB body limit.
const putBatchBytes = 4 << 20

func newStreamPutCmd(cf *clientFlags) *cobra.Command {
	var (
		key, id, eventTime string
	)
	cmd := &cobra.Command{
		Use:   "put NAME [DATA...]",
		Short: "Put records into a stream",
		Long: `Put records into a stream. Each DATA argument is one record; with none, each
line of standard input is one record (blank lines are skipped), sent in batches
of 500.

Without --key every record gets a random partition key, spreading records over
the shards. With --id the put is idempotent: a record whose id the stream has
seen within the dedupe window is stored once. With more than one record, record
n (the argument's position, or the line number) gets the id ID-n, so re-running
the same command stores nothing twice.

The exit status is non-zero if any record was not stored; the failed ones are
listed on standard error.`,
		Example: `  eddy stream put payments --key card-42 '{"amount": 12.5}'
  tail -f app.log | eddy stream put logs`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var et time.Time
			if eventTime != "" {
				var err error
				if et, err = time.Parse(time.RFC3339Nano, eventTime); err != nil {
					return fmt.Errorf("--event-time %q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", eventTime)
				}
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			p := &putter{cmd: cmd, cf: cf, c: c, stream: args[0], key: key, id: id, eventTime: et}
			if len(args) > 1 {
				p.singleID = len(args) == 2
				p.perRecord = true
				for i, d := range args[1:] {
					if err := p.add(i+1, []byte(d)); err != nil {
						return err
					}
				}
				return p.finish()
			}
			return p.readLines(cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "partition key of every record (default: a random key per record)")
	f.StringVar(&id, "id", "", "producer record id, making the put idempotent (ID-n for record n of several)")
	f.StringVar(&eventTime, "event-time", "", "event time of every record, RFC 3339")
	return cmd
}

// putter sends records in batches and keeps count of the outcome.
type putter struct {
	cmd       *cobra.Command
	cf        *clientFlags
	c         *client.Client
	stream    string
	key, id   string
	singleID  bool
	eventTime time.Time

	batch      []wire.PutRecord
	numbers    []int // each batched record's number (argument position or line)
	batchBytes int

	stored, duplicates int
	failed             []string
	// perRecord says the outcome is printed per record, from results, rather than as a
	// summary; it is for records given as arguments, not for a stream of lines.
	perRecord bool
	results   []wire.PutRecordResult
}

func (p *putter) add(n int, data []byte) error {
	r := wire.PutRecord{PartitionKey: p.key, Data: data, EventTime: p.eventTime}
	if r.PartitionKey == "" {
		r.PartitionKey = strconv.FormatUint(rand.Uint64(), 36)
	}
	if p.id != "" {
		r.ProducerID = p.id
		if !p.singleID {
			r.ProducerID = p.id + "-" + strconv.Itoa(n)
		}
	}
	size := len(r.PartitionKey) + len(data)
	if len(p.batch) == streams.MaxRecordsPerPut || len(p.batch) > 0 && p.batchBytes+size > putBatchBytes {
		if err := p.send(); err != nil {
			return err
		}
	}
	p.batch = append(p.batch, r)
	p.numbers = append(p.numbers, n)
	p.batchBytes += size
	return nil
}

func (p *putter) send() error {
	if len(p.batch) == 0 {
		return nil
	}
	res, err := p.c.PutRecords(p.cmd.Context(), p.stream, p.batch)
	if err != nil {
		if done := p.stored + p.duplicates + len(p.failed); done > 0 {
			return fmt.Errorf("%d records were put; record %d and those after it were not: %w", done, p.numbers[0], err)
		}
		return err
	}
	for i, r := range res.Records {
		switch {
		case r.ErrorCode != "":
			p.failed = append(p.failed, fmt.Sprintf("record %d: %s: %s", p.numbers[i], r.ErrorCode, r.ErrorMessage))
		case r.Duplicate:
			p.duplicates++
		default:
			p.stored++
		}
	}
	if p.perRecord {
		p.results = append(p.results, res.Records...)
	}
	p.batch, p.numbers, p.batchBytes = p.batch[:0], p.numbers[:0], 0
	return nil
}

// readLines puts each non-blank line of r as a record.
func (p *putter) readLines(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), streams.MaxRecordBytes+2) // +2 for a CRLF
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		if len(b) == 0 {
			continue
		}
		if err := p.add(line, append([]byte(nil), b...)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d is longer than a record may be (%d bytes)", line+1, streams.MaxRecordBytes)
		}
		return fmt.Errorf("read standard input: %w", err)
	}
	return p.finish()
}

// finish sends what is batched and prints the outcome.
func (p *putter) finish() error {
	if err := p.send(); err != nil {
		return err
	}
	out := p.cmd.OutOrStdout()
	switch {
	case p.perRecord && p.cf.json():
		if err := writeJSON(out, wire.PutRecordsResponse{FailedCount: len(p.failed), Records: p.results}); err != nil {
			return err
		}
	case p.perRecord:
		tw := newTable(out)
		fmt.Fprintln(tw, "RECORD\tSHARD\tSEQUENCE")
		for i, r := range p.results {
			seq := r.SequenceNumber
			switch {
			case r.ErrorCode != "":
				seq = "failed: " + r.ErrorCode
			case r.Duplicate:
				seq += " (duplicate)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, r.Shard, seq)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	case p.cf.json():
		if err := writeJSON(out, putSummary{Stream: p.stream, Stored: p.stored, Duplicates: p.duplicates, Failed: len(p.failed)}); err != nil {
			return err
		}
	default:
		fmt.Fprintf(out, "put %d records into stream %s", p.stored, p.stream)
		if p.duplicates > 0 {
			fmt.Fprintf(out, " (%d duplicates not stored again)", p.duplicates)
		}
		fmt.Fprintln(out)
	}
	if len(p.failed) == 0 {
		return nil
	}
	errOut := p.cmd.ErrOrStderr()
	for _, f := range p.failed {
		fmt.Fprintln(errOut, f)
	}
	return fmt.Errorf("%d of %d records were not stored", len(p.failed), p.stored+p.duplicates+len(p.failed))
}

// putSummary is what put prints with --output json for standard input.
type putSummary struct {
	Stream     string `json:"stream"`
	Stored     int    `json:"stored"`
	Duplicates int    `json:"duplicates"`
	Failed     int    `json:"failed"`
}

func newStreamTailCmd(cf *clientFlags) *cobra.Command {
	var (
		shard, from, sequence, timestamp string
	)
	cmd := &cobra.Command{
		Use:   "tail NAME",
		Short: "Print a stream's records as they arrive",
		Long: `Print a stream's records as they arrive, one line each: shard, sequence number,
partition key and data, tab-separated. Data is printed as text when it is
printable UTF-8 and as base64 otherwise; --output json prints each record as a
JSON line instead. Without --shard, tail reads every shard in the order the
records were stored. It runs until interrupted.`,
		Example: `  eddy stream tail payments
  eddy stream tail payments --from TRIM_HORIZON
  eddy stream tail payments --shard shard-0001 --from AFTER_SEQUENCE --sequence 4259840`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.SubscribeOptions{Shard: shard, Type: strings.ToUpper(from), SequenceNumber: sequence}
			if !cmd.Flags().Changed("from") {
				switch {
				case sequence != "":
					opts.Type = wire.AtSequence
				case timestamp != "":
					opts.Type = wire.AtTimestamp
				}
			}
			if timestamp != "" {
				var err error
				if opts.Timestamp, err = time.Parse(time.RFC3339Nano, timestamp); err != nil {
					return fmt.Errorf("--timestamp %q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", timestamp)
				}
			}
			c, err := cf.connect(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			err = c.Subscribe(ctx, args[0], opts, func(r wire.Record) error {
				if cf.json() {
					return writeJSONLine(out, r)
				}
				_, err := fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", r.Shard, r.SequenceNumber, r.PartitionKey, printable(r.Data))
				return err
			})
			if errors.Is(err, context.Canceled) && ctx.Err() != nil {
				return nil // interrupted: the normal way to stop
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&shard, "shard", "", "read only this shard (default: every shard)")
	f.StringVar(&from, "from", wire.Latest, "where to start: LATEST, TRIM_HORIZON, AT_SEQUENCE, AFTER_SEQUENCE or AT_TIMESTAMP")
	f.StringVar(&sequence, "sequence", "", "sequence number for AT_SEQUENCE and AFTER_SEQUENCE (implies AT_SEQUENCE without --from)")
	f.StringVar(&timestamp, "timestamp", "", "RFC 3339 time for AT_TIMESTAMP (implies it without --from)")
	return cmd
}

// printable returns data as text if it is printable UTF-8, else as base64.
func printable(data []byte) string {
	if utf8.Valid(data) && strings.IndexFunc(string(data), func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return string(data)
	}
	return base64.StdEncoding.EncodeToString(data)
}
