package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/flow"
)

// SinkConfig configures a sink.
type SinkConfig[T any] struct {
	// Client are the franz-go options every client of the sink starts from; they must
	// name the seed brokers.
	Client []kgo.Opt
	Topic  string
	// Encode turns a value into a record; its Topic is ignored.
	Encode func(v T, ts int64) (*kgo.Record, error)
	// ExactlyOnce stages records until the checkpoint that covers them completes, then
	// produces them in a Kafka transaction with a commit-log marker (see the package
	// documentation). Without it the sink is at-least-once.
	ExactlyOnce bool
	// ID names the sink uniquely across jobs, e.g. "<job>/<sink>"; needed with
	// ExactlyOnce.
	ID string
	// CommitLog is the topic of commit markers (default "<topic>-commit-log", created
	// with one partition when first needed).
	CommitLog string
}

// NewSink returns the open function of flow.SinkTo for a Kafka topic.
func NewSink[T any](cfg SinkConfig[T]) func(subtask, parallelism int) (flow.Writer[T], error) {
	return func(subtask, _ int) (flow.Writer[T], error) {
		if len(cfg.Client) == 0 || cfg.Topic == "" || cfg.Encode == nil {
			return nil, errors.New("kafka sink needs client options, a topic and an encoder")
		}
		if cfg.CommitLog == "" {
			cfg.CommitLog = cfg.Topic + "-commit-log"
		}
		if cfg.ExactlyOnce && cfg.ID == "" {
			return nil, errors.New("an exactly-once kafka sink needs an ID")
		}
		cl, err := kgo.NewClient(cfg.Client...)
		if err != nil {
			return nil, fmt.Errorf("kafka sink %s: client: %w", cfg.Topic, err)
		}
		w := writer[T]{cfg: cfg, cl: cl}
		if cfg.ExactlyOnce {
			return &txnWriter[T]{writer: w, subtask: subtask, last: -1, producers: map[string]*kgo.Client{}, markers: map[string]int64{}}, nil
		}
		return &w, nil
	}
}

// writer is the at-least-once sink: it produces what it has on every flush.
type writer[T any] struct {
	cfg     SinkConfig[T]
	cl      *kgo.Client
	pending []*kgo.Record
}

func (w *writer[T]) encode(v T, ts int64) (*kgo.Record, error) {
	r, err := w.cfg.Encode(v, ts)
	if err != nil {
		return nil, fmt.Errorf("encode for topic %s: %w", w.cfg.Topic, err)
	}
	r.Topic = w.cfg.Topic
	return r, nil
}

func (w *writer[T]) Write(v T, ts int64) error {
	r, err := w.encode(v, ts)
	if err != nil {
		return err
	}
	w.pending = append(w.pending, r)
	if len(w.pending) >= 10_000 {
		return w.Flush()
	}
	return nil
}

func (w *writer[T]) Flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := w.cl.ProduceSync(ctx, w.pending...).FirstErr()
	clear(w.pending)
	w.pending = w.pending[:0]
	if err != nil {
		return fmt.Errorf("produce to %s: %w", w.cfg.Topic, err)
	}
	return nil
}

func (w *writer[T]) Close() error {
	w.cl.Close()
	return nil
}

// txnWriter is the exactly-once sink: the records of one checkpoint interval are one
// transaction, held in the checkpoint until it completes.
type txnWriter[T any] struct {
	writer[T]
	subtask int
	// last is the highest checkpoint id pre-committed or committed here (-1: none).
	last int64
	// producers are the transactional clients, by marker key.
	producers map[string]*kgo.Client
	// markers is the commit log read so far: key -> highest committed checkpoint id.
	markers    map[string]int64
	logNext    int64 // the commit-log offset readMarkers continues from
	logReader  *kgo.Client
	logCreated bool
}

// Txn is a staged transaction of an exactly-once Kafka sink. Subtask is the subtask
// that wrote it, which after a rescale need not be the one that commits it.
type Txn struct {
	Sink       string
	Subtask    int
	Checkpoint int64
	Records    []TxnRecord
}

// TxnRecord is one staged record.
type TxnRecord struct {
	Key       []byte
	Value     []byte
	Headers   []kgo.RecordHeader
	Timestamp time.Time
}

func (t *Txn) key() string { return t.Sink + "/" + strconv.Itoa(t.Subtask) }

func (w *txnWriter[T]) Write(v T, ts int64) error {
	r, err := w.encode(v, ts)
	if err != nil {
		return err
	}
	w.pending = append(w.pending, r)
	return nil
}

// Flush keeps the records staged: they are produced only by Commit.
func (w *txnWriter[T]) Flush() error { return nil }

// PreCommit moves the staged records into the transaction; checkpoint -1 (the end of a
// bounded input) takes the id after the last one seen.
func (w *txnWriter[T]) PreCommit(checkpoint int64) ([]byte, error) {
	if checkpoint < 0 {
		if w.last < 0 {
			if err := w.readMarkers(); err != nil {
				return nil, err
			}
			w.last = w.markers[w.cfg.ID+"/"+strconv.Itoa(w.subtask)]
		}
		checkpoint = w.last + 1
	}
	w.last = max(w.last, checkpoint)
	t := Txn{Sink: w.cfg.ID, Subtask: w.subtask, Checkpoint: checkpoint, Records: make([]TxnRecord, len(w.pending))}
	for i, r := range w.pending {
		t.Records[i] = TxnRecord{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
	}
	clear(w.pending)
	w.pending = w.pending[:0]
	return json.Marshal(t)
}

// Commit produces the transaction's records and its marker in one Kafka transaction,
// unless the commit log shows it committed already.
func (w *txnWriter[T]) Commit(data []byte) error {
	var t Txn
	if err := json.Unmarshal(data, &t); err != nil {
		return fmt.Errorf("decode transaction: %w", err)
	}
	w.last = max(w.last, t.Checkpoint)
	if err := w.readMarkers(); err != nil {
		return err
	}
	key := t.key()
	if done, ok := w.markers[key]; ok && t.Checkpoint <= done {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := w.producer(key)
	if err != nil {
		return err
	}
	if err := p.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction %s@%d: %w", key, t.Checkpoint, err)
	}
	recs := make([]*kgo.Record, 0, len(t.Records)+1)
	for _, r := range t.Records {
		recs = append(recs, &kgo.Record{Topic: w.cfg.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
	}
	recs = append(recs, &kgo.Record{Topic: w.cfg.CommitLog, Partition: 0, Key: []byte(key), Value: []byte(strconv.FormatInt(t.Checkpoint, 10))})
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		_ = p.EndTransaction(ctx, kgo.TryAbort)
		return fmt.Errorf("produce transaction %s@%d: %w", key, t.Checkpoint, err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("commit transaction %s@%d: %w", key, t.Checkpoint, err)
	}
	w.markers[key] = t.Checkpoint
	return nil
}

// producer is the transactional client for a marker key; starting it fences any client
// of an earlier run with the same transactional id and aborts its open transaction.
func (w *txnWriter[T]) producer(key string) (*kgo.Client, error) {
	if p := w.producers[key]; p != nil {
		return p, nil
	}
	opts := append(append([]kgo.Opt(nil), w.cfg.Client...),
		kgo.TransactionalID("eddy-"+key),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	p, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("transactional client %s: %w", key, err)
	}
	w.producers[key] = p
	return p, nil
}

// readMarkers reads the commit log from where it stopped up to its last stable offset.
func (w *txnWriter[T]) readMarkers() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(w.cl)
	if !w.logCreated {
		if err := ensureTopic(ctx, adm, w.cfg.CommitLog, 1); err != nil {
			return fmt.Errorf("create commit log %s: %w", w.cfg.CommitLog, err)
		}
		w.logCreated = true
	}
	ends, err := adm.ListCommittedOffsets(ctx, w.cfg.CommitLog)
	if err != nil {
		return fmt.Errorf("commit log %s: list offsets: %w", w.cfg.CommitLog, err)
	}
	end, ok := ends.Lookup(w.cfg.CommitLog, 0)
	if !ok || end.Err != nil {
		return fmt.Errorf("commit log %s: no last stable offset: %v", w.cfg.CommitLog, end.Err)
	}
	if w.logReader == nil {
		opts := append(append([]kgo.Opt(nil), w.cfg.Client...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.cfg.CommitLog: {0: kgo.NewOffset().AtStart()}}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
		)
		if w.logReader, err = kgo.NewClient(opts...); err != nil {
			return fmt.Errorf("commit log %s: client: %w", w.cfg.CommitLog, err)
		}
	}
	for w.logNext < end.Offset {
		fetches := w.logReader.PollFetches(ctx)
		if err := fetches.Err(); err != nil {
			return fmt.Errorf("commit log %s: %w", w.cfg.CommitLog, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			w.logNext = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			id, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil {
				return // not a marker of this package
			}
			if prev, seen := w.markers[string(r.Key)]; !seen || id > prev {
				w.markers[string(r.Key)] = id
			}
		})
	}
	return nil
}

func (w *txnWriter[T]) Close() error {
	for _, p := range w.producers {
		p.Close()
	}
	if w.logReader != nil {
		w.logReader.Close()
	}
	return w.writer.Close()
}
