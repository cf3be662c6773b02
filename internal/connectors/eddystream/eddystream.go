// Package eddystream connects jobs to eddy streams: a source that reads every shard of a
// stream, with per-shard watermarks and a dead-letter stream for records it cannot
// decode, and a sink that puts a job's output into a stream in batches.
package eddystream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/streams"
)

// SourceConfig configures a Source.
type SourceConfig[T any] struct {
	Service *streams.Service
	Stream  string
	// Start is where every shard is read from (default TRIM_HORIZON).
	Start streams.Start
	// Decode turns a stored record into a value and its event time in Unix milliseconds
	// (flow.NoTimestamp for none). A record it rejects goes to the dead-letter stream.
	Decode func(r *streams.StoredRecord) (T, int64, error)
	// DeadLetter is the stream for undecodable records (default "<stream>-dead-letter",
	// created when first needed).
	DeadLetter string
	// OutOfOrderness bounds how late a record may be within its shard; each shard's
	// watermark trails the largest event time it has delivered by this much.
	OutOfOrderness time.Duration
	// Idleness marks a shard idle after this long without records, so it does not hold
	// back event time (0: never).
	Idleness time.Duration
	// StopAtEnd makes the source bounded: each shard is read until it has delivered
	// everything stored, then the source ends.
	StopAtEnd bool
	// ReadLimit is the most records per read (default 10,000).
	ReadLimit int
}

// Source reads an eddy stream. Subtask i of p reads shards i, i+p, ... of the shards the
// stream has when the job starts. Shards opened by a later reshard are not picked up
// until the job restarts. In a checkpoint it saves, per shard, the sequence number of
// the last record it emitted; a restored source continues after it, or fails with
// SequenceTrimmed if the stream no longer holds it.
type Source[T any] struct {
	cfg SourceConfig[T]

	mu       sync.Mutex
	restored map[string]streams.SequenceNumber // shard -> last emitted, from a checkpoint
	running  map[int]*subtaskState
}

// subtaskState is what one running subtask has emitted, per shard.
type subtaskState struct {
	last map[string]streams.SequenceNumber
	dlq  *deadLetters
}

// NewSource checks the configuration and returns the source.
func NewSource[T any](cfg SourceConfig[T]) (*Source[T], error) {
	if cfg.Service == nil || cfg.Stream == "" || cfg.Decode == nil {
		return nil, errors.New("eddystream source needs a service, a stream and a decoder")
	}
	if cfg.DeadLetter == "" {
		cfg.DeadLetter = cfg.Stream + "-dead-letter"
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = streams.MaxReadLimit
	}
	if cfg.Start.Kind == "" {
		cfg.Start.Kind = streams.TrimHorizon
	}
	return &Source[T]{cfg: cfg, restored: map[string]streams.SequenceNumber{}, running: map[int]*subtaskState{}}, nil
}

// Snapshot implements flow.CheckpointedSource: the positions of the subtask's shards. Dead
// letters found before them are written first, so none is lost with the checkpoint.
func (s *Source[T]) Snapshot(subtask int) ([]byte, error) {
	s.mu.Lock()
	st := s.running[subtask]
	s.mu.Unlock()
	if st == nil {
		return json.Marshal(map[string]streams.SequenceNumber{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.dlq.flush(ctx); err != nil {
		return nil, err
	}
	return json.Marshal(st.last)
}

// Restore implements flow.CheckpointedSource.
func (s *Source[T]) Restore(_ int, data []byte) error {
	var pos map[string]streams.SequenceNumber
	if err := json.Unmarshal(data, &pos); err != nil {
		return fmt.Errorf("restore positions of %s: %w", s.cfg.Stream, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for shard, seq := range pos {
		s.restored[shard] = seq
	}
	return nil
}

type shardReader struct {
	id string
	it *streams.Iterator
	flow.Split
}

// Run reads this subtask's shards until they end (StopAtEnd) or ctx ends.
func (s *Source[T]) Run(ctx context.Context, subtask, parallelism int, out flow.SourceOutput[T]) error {
	cfg := s.cfg
	info, err := cfg.Service.Describe(ctx, cfg.Stream)
	if err != nil {
		return fmt.Errorf("source %s: %w", cfg.Stream, err)
	}
	watch, err := cfg.Service.Watch(cfg.Stream)
	if err != nil {
		return err
	}
	defer watch.Close()
	st := &subtaskState{last: map[string]streams.SequenceNumber{}, dlq: &deadLetters{svc: cfg.Service, stream: cfg.DeadLetter, source: cfg.Stream}}
	s.mu.Lock()
	s.running[subtask] = st
	s.mu.Unlock()
	var shards []*shardReader
	for i, sh := range info.Shards {
		if i%parallelism != subtask {
			continue
		}
		start := cfg.Start
		s.mu.Lock()
		if seq, ok := s.restored[sh.ID]; ok {
			start = streams.Start{Kind: streams.AfterSequence, Sequence: seq}
			st.last[sh.ID] = seq
		}
		s.mu.Unlock()
		it, err := cfg.Service.NewIterator(ctx, cfg.Stream, sh.ID, start)
		if err != nil {
			return fmt.Errorf("source %s shard %s: %w", cfg.Stream, sh.ID, err)
		}
		shards = append(shards, &shardReader{id: sh.ID, it: it, Split: flow.NewSplit()})
	}
	dlq := st.dlq
	for ctx.Err() == nil {
		active, got := 0, 0
		for _, sh := range shards {
			if sh.Done {
				continue
			}
			active++
			recs, ended, err := sh.it.Next(ctx, cfg.ReadLimit, 0)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("source %s shard %s: %w", cfg.Stream, sh.id, err)
			}
			for i := range recs {
				r := &recs[i]
				v, ts, err := cfg.Decode(r)
				if err != nil {
					if err := dlq.add(ctx, r, err); err != nil {
						return err
					}
					st.last[sh.id] = r.Sequence
					continue
				}
				sh.Observe(ts)
				out.Emit(v, ts)
				st.last[sh.id] = r.Sequence
			}
			if len(recs) > 0 {
				sh.LastData = time.Now()
				got += len(recs)
			}
			if ended || cfg.StopAtEnd && sh.it.CaughtUp() && len(recs) == 0 {
				sh.Done = true
				active--
			}
		}
		if err := dlq.flush(ctx); err != nil {
			return err
		}
		if active == 0 {
			return nil
		}
		if wm, ok := flow.SplitsWatermark(shards, cfg.OutOfOrderness, cfg.Idleness); ok {
			out.Watermark(wm)
		}
		out.Poll()
		if got == 0 {
			// Nothing anywhere: sleep until something is published to the stream, waking
			// now and then to let checkpoints through and to notice idleness.
			select {
			case <-ctx.Done():
			case <-watch.C:
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// DeadLetter is what the dead-letter stream holds for each record a source could not
// decode.
type DeadLetter struct {
	Stream         string `json:"stream"`
	Shard          string `json:"shard"`
	SequenceNumber string `json:"sequenceNumber"`
	PartitionKey   string `json:"partitionKey"`
	Error          string `json:"error"`
	Data           []byte `json:"data"`
}

type deadLetters struct {
	svc     *streams.Service
	stream  string
	source  string
	pending []streams.Record
	created bool
}

func (d *deadLetters) add(ctx context.Context, r *streams.StoredRecord, reason error) error {
	body, err := json.Marshal(DeadLetter{Stream: d.source, Shard: r.Shard, SequenceNumber: r.Sequence.String(), PartitionKey: r.PartitionKey, Error: reason.Error(), Data: r.Data})
	if err != nil {
		return err
	}
	// The producer id makes a replay of the same record after a restart land once.
	d.pending = append(d.pending, streams.Record{PartitionKey: r.PartitionKey, Data: body, ProducerID: "dlq-" + r.Shard + "-" + r.Sequence.String()})
	if len(d.pending) == streams.MaxRecordsPerPut {
		return d.flush(ctx)
	}
	return nil
}

func (d *deadLetters) flush(ctx context.Context) error {
	if len(d.pending) == 0 {
		return nil
	}
	if !d.created {
		if _, err := d.svc.Create(ctx, d.stream, streams.Config{Shards: 1}); err != nil && apierr.CodeOf(err) != "StreamExists" {
			return fmt.Errorf("create dead-letter stream %s: %w", d.stream, err)
		}
		d.created = true
	}
	if err := putAll(ctx, d.svc, d.stream, d.pending); err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", d.stream, err)
	}
	d.pending = d.pending[:0]
	return nil
}

// putAll puts records in batches the put API accepts and fails on any record's error.
func putAll(ctx context.Context, svc *streams.Service, stream string, recs []streams.Record) error {
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && n < streams.MaxRecordsPerPut {
			sz := len(recs[n].Data) + len(recs[n].PartitionKey)
			if n > 0 && size+sz > streams.MaxPutBytes {
				break
			}
			size += sz
			n++
		}
		res, err := svc.Put(ctx, stream, recs[:n])
		if err != nil {
			return err
		}
		for i := range res {
			if res[i].Err != nil {
				return fmt.Errorf("record %d: %w", i, res[i].Err)
			}
		}
		recs = recs[n:]
	}
	return nil
}

// SinkConfig configures a sink.
type SinkConfig[T any] struct {
	Service *streams.Service
	Stream  string
	// Encode turns a value into a record.
	Encode func(v T, ts int64) (streams.Record, error)
	// ExactlyOnce stages records until the checkpoint that covers them completes, then
	// puts them with producer record ids derived from ID, the checkpoint and the record's
	// place in it: a commit repeated after a crash is dropped as a duplicate, provided the
	// restart comes within the stream's dedupe window (--dedupe-window). Output becomes
	// visible one checkpoint interval late. Without it the sink is at-least-once.
	ExactlyOnce bool
	// ID names the sink uniquely across jobs, e.g. "<job>/<sink>"; needed with ExactlyOnce.
	ID string
}

// NewSink returns the open function of flow.SinkTo for an eddy stream.
func NewSink[T any](cfg SinkConfig[T]) func(subtask, parallelism int) (flow.Writer[T], error) {
	return func(subtask, _ int) (flow.Writer[T], error) {
		if cfg.Service == nil || cfg.Stream == "" || cfg.Encode == nil {
			return nil, errors.New("eddystream sink needs a service, a stream and an encoder")
		}
		if cfg.ExactlyOnce {
			if cfg.ID == "" {
				return nil, errors.New("an exactly-once eddystream sink needs an ID")
			}
			return &txnWriter[T]{writer: writer[T]{cfg: cfg}, subtask: subtask}, nil
		}
		return &writer[T]{cfg: cfg}, nil
	}
}

type writer[T any] struct {
	cfg     SinkConfig[T]
	pending []streams.Record
}

// txnWriter is the exactly-once sink: the records of one checkpoint interval are one
// transaction, held in the checkpoint until it completes.
type txnWriter[T any] struct {
	writer[T]
	subtask int
}

// Txn is a staged transaction of an exactly-once eddystream sink.
type Txn struct {
	ID      string
	Records []streams.Record
}

func (w *txnWriter[T]) Write(v T, ts int64) error {
	r, err := w.cfg.Encode(v, ts)
	if err != nil {
		return fmt.Errorf("encode for stream %s: %w", w.cfg.Stream, err)
	}
	w.pending = append(w.pending, r)
	return nil
}

// Flush keeps the records staged: they are published only by Commit.
func (w *txnWriter[T]) Flush() error { return nil }

func (w *txnWriter[T]) PreCommit(checkpoint int64) ([]byte, error) {
	t := Txn{ID: fmt.Sprintf("%s/%d/%d", w.cfg.ID, w.subtask, checkpoint), Records: w.pending}
	w.pending = nil
	return json.Marshal(t)
}

func (w *txnWriter[T]) Commit(data []byte) error {
	var t Txn
	if err := json.Unmarshal(data, &t); err != nil {
		return fmt.Errorf("decode transaction: %w", err)
	}
	for i := range t.Records {
		t.Records[i].ProducerID = t.ID + "/" + strconv.Itoa(i)
	}
	return putAll(context.Background(), w.cfg.Service, w.cfg.Stream, t.Records)
}

func (w *writer[T]) Write(v T, ts int64) error {
	r, err := w.cfg.Encode(v, ts)
	if err != nil {
		return fmt.Errorf("encode for stream %s: %w", w.cfg.Stream, err)
	}
	w.pending = append(w.pending, r)
	if len(w.pending) >= streams.MaxRecordsPerPut {
		return w.Flush()
	}
	return nil
}

func (w *writer[T]) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	err := putAll(context.Background(), w.cfg.Service, w.cfg.Stream, w.pending)
	clear(w.pending)
	w.pending = w.pending[:0]
	return err
}

func (w *writer[T]) Close() error { return nil }
