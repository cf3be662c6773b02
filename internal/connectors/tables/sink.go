// Package tables is the sink of jobs into eddy tables.
//
// The sink is exactly-once by idempotence rather than by transactions: every record
// written to a table has an identity (dimensions, time, measure name) and a version, and
// writing an identity again with the same values changes nothing. The sink flushes what
// it buffered before each checkpoint barrier passes it, so after a crash the job replays
// from its last checkpoint and writes the same records again, which the table finds
// identical. That holds when the job is deterministic — the same input gives the same
// records with the same times, values and versions — as event-time jobs are; a job
// whose output depends on processing time may write other values on replay, which the
// table rejects as version conflicts (reported to OnRejected) unless their version is
// higher.
package tables

import (
	"context"
	"fmt"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/tables"
)

// Writer is the tables write path the sink calls; *tables.Service is one.
type Writer interface {
	Write(ctx context.Context, db, table string, req *tables.WriteRequest) (tables.WriteResult, error)
}

// SinkConfig configures a tables sink for records of type T.
type SinkConfig[T any] struct {
	Writer          Writer
	Database, Table string
	// Record turns a job's record, with its event time, into a table record. It may
	// reuse r's slices between calls only if it does not keep them.
	Record func(v T, ts int64) tables.Record
	// BatchSize is how many records one write carries at most (default 1000, at most
	// tables.MaxRecordsPerWrite).
	BatchSize int
	// OnRejected is told of each record the table rejected; a non-nil error fails the
	// job. Nil fails the job at the first rejection, naming the record and the reason.
	OnRejected func(rec tables.Record, why tables.RejectedRecord) error
}

// NewSink returns the open function of flow.SinkTo for a tables sink.
func NewSink[T any](cfg SinkConfig[T]) func(subtask, parallelism int) (flow.Writer[T], error) {
	return func(int, int) (flow.Writer[T], error) {
		if cfg.Writer == nil || cfg.Record == nil {
			return nil, fmt.Errorf("tables sink %s.%s: Writer and Record are needed", cfg.Database, cfg.Table)
		}
		n := cfg.BatchSize
		if n <= 0 {
			n = 1000
		}
		n = min(n, tables.MaxRecordsPerWrite)
		return &sink[T]{cfg: cfg, batch: n}, nil
	}
}

type sink[T any] struct {
	cfg   SinkConfig[T]
	batch int
	req   tables.WriteRequest
}

func (s *sink[T]) Write(v T, ts int64) error {
	s.req.Records = append(s.req.Records, s.cfg.Record(v, ts))
	if len(s.req.Records) >= s.batch {
		return s.Flush()
	}
	return nil
}

// Flush writes the buffered records; it returns once the table has them durably.
func (s *sink[T]) Flush() error {
	if len(s.req.Records) == 0 {
		return nil
	}
	res, err := s.cfg.Writer.Write(context.Background(), s.cfg.Database, s.cfg.Table, &s.req)
	if err != nil {
		return fmt.Errorf("write to table %s.%s: %w", s.cfg.Database, s.cfg.Table, err)
	}
	for _, r := range res.Rejected {
		if s.cfg.OnRejected == nil {
			return fmt.Errorf("table %s.%s rejected record %+v: %s: %s", s.cfg.Database, s.cfg.Table, s.req.Records[r.Index], r.Code, r.Reason)
		}
		if err := s.cfg.OnRejected(s.req.Records[r.Index], r); err != nil {
			return err
		}
	}
	clear(s.req.Records)
	s.req.Records = s.req.Records[:0]
	return nil
}

func (s *sink[T]) Close() error { return s.Flush() }
