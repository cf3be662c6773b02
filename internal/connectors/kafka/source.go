package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/flow"
)

// Start says where a partition without a restored position is read from.
type Start uint8

const (
	// Earliest reads every record the partition still holds.
	Earliest Start = iota
	// Latest reads only records produced after the subtask starts.
	Latest
)

// SourceConfig configures a Source.
type SourceConfig[T any] struct {
	// Client are the franz-go options every client of the source starts from; they must
	// name the seed brokers (kgo.SeedBrokers).
	Client []kgo.Opt
	Topic  string
	// Start is where partitions are read from when no checkpoint says otherwise.
	Start Start
	// Decode turns a record into a value and its event time in Unix milliseconds
	// (flow.NoTimestamp for none). A record it rejects goes to the dead-letter topic.
	Decode func(r *kgo.Record) (T, int64, error)
	// DeadLetter is the topic for undecodable records (default "<topic>-dead-letter",
	// created when first needed).
	DeadLetter string
	// OutOfOrderness bounds how late a record may be within its partition; each
	// partition's watermark trails the largest event time it has delivered by this much.
	OutOfOrderness time.Duration
	// Idleness marks a partition idle after this long without records, so it does not
	// hold back event time (0: never).
	Idleness time.Duration
	// StopAtEnd makes the source bounded: each partition is read up to the last stable
	// offset it had when the subtask started, then the source ends.
	StopAtEnd bool
}

// Source reads a Kafka topic; see the package documentation for how positions are kept.
type Source[T any] struct {
	cfg SourceConfig[T]

	mu       sync.Mutex
	restored map[int32]int64 // partition -> next offset, from a checkpoint
	running  map[int]*subtaskState
}

// subtaskState is the position of one running subtask, per partition.
type subtaskState struct {
	mu   sync.Mutex
	next map[int32]int64
	dlq  *deadLetters
}

// NewSource checks the configuration and returns the source.
func NewSource[T any](cfg SourceConfig[T]) (*Source[T], error) {
	if len(cfg.Client) == 0 || cfg.Topic == "" || cfg.Decode == nil {
		return nil, errors.New("kafka source needs client options, a topic and a decoder")
	}
	if cfg.DeadLetter == "" {
		cfg.DeadLetter = cfg.Topic + "-dead-letter"
	}
	return &Source[T]{cfg: cfg, restored: map[int32]int64{}, running: map[int]*subtaskState{}}, nil
}

// positions is the checkpointed form of a subtask's positions: partition -> next offset.
type positions map[string]int64

// Snapshot implements flow.CheckpointedSource: the next offset of each of the subtask's
// partitions. Dead letters found before them are produced first, so none is lost with
// the checkpoint.
func (s *Source[T]) Snapshot(subtask int) ([]byte, error) {
	s.mu.Lock()
	st := s.running[subtask]
	s.mu.Unlock()
	pos := positions{}
	if st == nil {
		// Not started yet: keep what was restored for the partitions it will own.
		s.mu.Lock()
		for p, off := range s.restored {
			pos[strconv.Itoa(int(p))] = off
		}
		s.mu.Unlock()
		return json.Marshal(pos)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.dlq.flush(ctx); err != nil {
		return nil, err
	}
	st.mu.Lock()
	for p, off := range st.next {
		pos[strconv.Itoa(int(p))] = off
	}
	st.mu.Unlock()
	return json.Marshal(pos)
}

// Restore implements flow.CheckpointedSource.
func (s *Source[T]) Restore(_ int, data []byte) error {
	var pos positions
	if err := json.Unmarshal(data, &pos); err != nil {
		return fmt.Errorf("restore positions of %s: %w", s.cfg.Topic, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, off := range pos {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return fmt.Errorf("restore positions of %s: partition %q: %w", s.cfg.Topic, p, err)
		}
		s.restored[int32(n)] = max(s.restored[int32(n)], off)
	}
	return nil
}

type partitionReader struct {
	id  int32
	end int64 // with StopAtEnd, the offset at which the partition is done; else -1
	flow.Split
}

// Run reads this subtask's partitions until they end (StopAtEnd) or ctx ends.
func (s *Source[T]) Run(ctx context.Context, subtask, parallelism int, out flow.SourceOutput[T]) error {
	cfg := s.cfg
	admin, err := kgo.NewClient(cfg.Client...)
	if err != nil {
		return fmt.Errorf("source %s: client: %w", cfg.Topic, err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	starts, ends, err := partitionOffsets(ctx, adm, cfg.Topic)
	if err != nil {
		return fmt.Errorf("source %s: %w", cfg.Topic, err)
	}
	st := &subtaskState{next: map[int32]int64{}, dlq: &deadLetters{adm: adm, cl: admin, topic: cfg.DeadLetter, source: cfg.Topic}}
	var parts []*partitionReader
	assign := map[int32]kgo.Offset{}
	s.mu.Lock()
	for p, start := range starts {
		if int(p)%parallelism != subtask {
			continue
		}
		next, ok := s.restored[p]
		switch {
		case ok:
		case cfg.Start == Latest:
			next = ends[p]
		default:
			next = start
		}
		st.next[p] = next
		assign[p] = kgo.NewOffset().At(next)
		end := int64(-1)
		if cfg.StopAtEnd {
			end = ends[p]
		}
		pr := &partitionReader{id: p, end: end, Split: flow.NewSplit()}
		pr.Done = end >= 0 && next >= end
		parts = append(parts, pr)
	}
	s.running[subtask] = st
	s.mu.Unlock()
	if len(parts) == 0 {
		if cfg.StopAtEnd {
			return nil
		}
		// More subtasks than partitions: this one never has input, so it must neither
		// hold event time back nor keep checkpoint barriers waiting.
		out.Idle()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
				out.Poll()
			}
		}
	}
	opts := append(append([]kgo.Opt(nil), cfg.Client...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records carry offsets too: seeing them is how the position passes the
		// commit marker at the end of a transaction.
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("source %s: client: %w", cfg.Topic, err)
	}
	defer cl.Close()
	byID := map[int32]*partitionReader{}
	for _, p := range parts {
		byID[p.id] = p
	}
	for ctx.Err() == nil {
		if allDone(parts) {
			return st.dlq.flush(ctx)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = fmt.Errorf("source %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var rerr error
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			pr := byID[fp.Partition]
			if pr == nil || rerr != nil {
				return
			}
			for _, r := range fp.Records {
				if rerr = s.deliver(ctx, st, pr, r, out); rerr != nil {
					return
				}
			}
			if len(fp.Records) > 0 {
				pr.LastData = time.Now()
			}
		})
		if rerr != nil {
			return rerr
		}
		if err := st.dlq.flush(ctx); err != nil {
			return err
		}
		if wm, ok := flow.SplitsWatermark(parts, cfg.OutOfOrderness, cfg.Idleness); ok {
			out.Watermark(wm)
		} else if allIdle(parts, cfg.Idleness) {
			out.Idle()
		}
		out.Poll()
	}
	return nil
}

// deliver emits one record (or dead-letters it) and moves the partition's position past it.
func (s *Source[T]) deliver(ctx context.Context, st *subtaskState, pr *partitionReader, r *kgo.Record, out flow.SourceOutput[T]) error {
	if pr.Done {
		return nil // beyond the end a bounded source reads to
	}
	if r.Attrs.IsControl() {
		st.advance(pr, r.Offset+1)
		return nil
	}
	v, ts, err := s.cfg.Decode(r)
	if err != nil {
		if err := st.dlq.add(ctx, r, err); err != nil {
			return err
		}
		st.advance(pr, r.Offset+1)
		return nil
	}
	pr.Observe(ts)
	// Emit may take a checkpoint: the position must not yet include this record.
	out.Emit(v, ts)
	st.advance(pr, r.Offset+1)
	return nil
}

func (st *subtaskState) advance(pr *partitionReader, next int64) {
	st.mu.Lock()
	st.next[pr.id] = next
	st.mu.Unlock()
	if pr.end >= 0 && next >= pr.end {
		pr.Done = true
	}
}

func allDone(parts []*partitionReader) bool {
	for _, p := range parts {
		if !p.Done {
			return false
		}
	}
	return true
}

func allIdle(parts []*partitionReader, idleness time.Duration) bool {
	if idleness <= 0 {
		return false
	}
	for _, p := range parts {
		if !p.Done && time.Since(p.LastData) <= idleness {
			return false
		}
	}
	return true
}

// partitionOffsets lists the first offset and the last stable offset of every partition.
func partitionOffsets(ctx context.Context, adm *kadm.Client, topic string) (starts, ends map[int32]int64, err error) {
	so, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	eo, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, nil, fmt.Errorf("list end offsets: %w", err)
	}
	starts, ends = map[int32]int64{}, map[int32]int64{}
	var lerr error
	so.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
		}
		starts[o.Partition] = o.Offset
	})
	eo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			lerr = o.Err
		}
		ends[o.Partition] = o.Offset
	})
	if lerr != nil {
		return nil, nil, fmt.Errorf("list offsets: %w", lerr)
	}
	if len(starts) == 0 {
		return nil, nil, fmt.Errorf("topic has no partitions: %w", kerr.UnknownTopicOrPartition)
	}
	return starts, ends, nil
}

// DeadLetter is what the dead-letter topic holds for each record a source could not
// decode.
type DeadLetter struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       []byte `json:"key"`
	Error     string `json:"error"`
	Value     []byte `json:"value"`
}

type deadLetters struct {
	adm     *kadm.Client
	cl      *kgo.Client
	topic   string
	source  string
	mu      sync.Mutex
	pending []*kgo.Record
	created bool
}

func (d *deadLetters) add(ctx context.Context, r *kgo.Record, reason error) error {
	body, err := json.Marshal(DeadLetter{Topic: d.source, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Error: reason.Error(), Value: r.Value})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.pending = append(d.pending, &kgo.Record{Topic: d.topic, Key: r.Key, Value: body})
	n := len(d.pending)
	d.mu.Unlock()
	if n >= 1000 {
		return d.flush(ctx)
	}
	return nil
}

func (d *deadLetters) flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) == 0 {
		return nil
	}
	if !d.created {
		if err := ensureTopic(ctx, d.adm, d.topic, 1); err != nil {
			return fmt.Errorf("create dead-letter topic %s: %w", d.topic, err)
		}
		d.created = true
	}
	if err := d.cl.ProduceSync(ctx, d.pending...).FirstErr(); err != nil {
		return fmt.Errorf("dead-letter topic %s: %w", d.topic, err)
	}
	clear(d.pending)
	d.pending = d.pending[:0]
	return nil
}

// ensureTopic creates topic with the given partitions unless it exists.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	_, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	return nil
}
