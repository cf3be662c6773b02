package nexmarkbench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/nexmark"
	"github.com/eddy-streams/eddy/internal/connectors/eddystream"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Source is where a run reads the events from.
type Source string

const (
	// Memory is the generator itself, one split per source subtask (flow.FromGenerator).
	Memory Source = "memory"
	// Stream is an eddy stream preloaded with the JSON form of the events, read with the
	// eddystream source and decoded with nexmark.DecodeJSON.
	Stream Source = "stream"
)

// eventTime is the timestamp extractor of both sources.
func eventTime(e nexmark.Event) int64 { return e.Time() }

// FromGenerator adds the generator as a source of parallelism subtasks, split i of
// parallelism in subtask i, with watermarks bound behind the latest event time.
func FromGenerator(job *flow.Job, cfg nexmark.Config, parallelism int, bound time.Duration) (*flow.Stream[nexmark.Event], error) {
	return fromGenerator(job, cfg, parallelism, bound, nil)
}

func fromGenerator(job *flow.Job, cfg nexmark.Config, parallelism int, bound time.Duration, prog *progress) (*flow.Stream[nexmark.Event], error) {
	if _, err := nexmark.NewGenerator(cfg, 0, parallelism); err != nil {
		return nil, err
	}
	open := func(subtask, parallelism int) func(*nexmark.Event) bool {
		g, err := nexmark.NewGenerator(cfg, subtask, parallelism)
		if err != nil {
			panic(err) // checked above for the same config
		}
		if prog == nil {
			return g.Next
		}
		m := prog.subtasks[subtask]
		return func(e *nexmark.Event) bool {
			if !g.Next(e) {
				m.end()
				return false
			}
			m.observe(e.Time())
			return true
		}
	}
	return flow.FromGenerator(job, "events", parallelism, open, flow.SourceOptions[nexmark.Event]{
		Timestamp:  eventTime,
		Watermarks: flow.BoundedOutOfOrderness(bound),
	}), nil
}

// FromStream adds a bounded source of parallelism subtasks reading the JSON events of
// an eddy stream from its start to its end, with each shard's watermark bound behind
// the latest event time it delivered.
func FromStream(job *flow.Job, svc *streams.Service, stream string, parallelism int, bound time.Duration) (*flow.Stream[nexmark.Event], error) {
	return fromStream(job, svc, stream, parallelism, bound, nil)
}

func fromStream(job *flow.Job, svc *streams.Service, stream string, parallelism int, bound time.Duration, prog *progress) (*flow.Stream[nexmark.Event], error) {
	src, err := eddystream.NewSource(eddystream.SourceConfig[nexmark.Event]{
		Service: svc, Stream: stream, StopAtEnd: true, OutOfOrderness: bound,
		Decode: decode,
	})
	if err != nil {
		return nil, err
	}
	var s flow.Source[nexmark.Event] = src
	if prog != nil {
		s = &markedSource{inner: src, prog: prog}
	}
	return flow.FromSource(job, "events", parallelism, s), nil
}

func decode(r *streams.StoredRecord) (nexmark.Event, int64, error) {
	var e nexmark.Event
	err := nexmark.DecodeJSON(r.Data, &e)
	return e, e.Time(), err
}

// markedSource notes the progress of a connector's source subtasks.
type markedSource struct {
	inner flow.Source[nexmark.Event]
	prog  *progress
}

func (s *markedSource) Run(ctx context.Context, subtask, parallelism int, out flow.SourceOutput[nexmark.Event]) error {
	m := s.prog.subtasks[subtask]
	defer m.end()
	return s.inner.Run(ctx, subtask, parallelism, &markedOutput{SourceOutput: out, m: m})
}

type markedOutput struct {
	flow.SourceOutput[nexmark.Event]
	m *marks
}

func (o *markedOutput) Emit(e nexmark.Event, ts int64) {
	o.m.observe(ts)
	o.SourceOutput.Emit(e, ts)
}

// Preload is how the stream source's stream was filled, before anything was timed.
type Preload struct {
	Stream       string  `json:"stream"`
	Shards       int     `json:"shards"`
	Events       int64   `json:"events"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSec"`
	MBPerSec     float64 `json:"mbPerSec"`
}

// Fill creates stream with the given number of shards and puts the JSON form of every
// event of cfg into it. Split i of the generator goes to shard i, one put call of up to
// streams.MaxRecordsPerPut records at a time, so each shard holds its split in order.
func Fill(ctx context.Context, svc *streams.Service, stream string, shards int, cfg nexmark.Config) (Preload, error) {
	if cfg.MaxEvents <= 0 {
		return Preload{}, errors.New("preload needs a bounded event count")
	}
	info, err := svc.Create(ctx, stream, streams.Config{Shards: shards})
	if err != nil {
		return Preload{}, fmt.Errorf("create stream %s: %w", stream, err)
	}
	keys := keysPerShard(info.Shards)
	start := time.Now()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total Preload
		errs  []error
	)
	for w := range keys {
		g, err := nexmark.NewGenerator(cfg, w, len(keys))
		if err != nil {
			return Preload{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, size, err := fillShard(ctx, svc, stream, keys[w], g)
			mu.Lock()
			defer mu.Unlock()
			total.Events += n
			total.Bytes += size
			if err != nil {
				errs = append(errs, fmt.Errorf("preload shard %d of %s: %w", w, stream, err))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total.Stream, total.Shards = stream, len(keys)
	total.Seconds = elapsed.Seconds()
	total.EventsPerSec = float64(total.Events) / total.Seconds
	total.MBPerSec = float64(total.Bytes) / 1e6 / total.Seconds
	return total, errors.Join(errs...)
}

func fillShard(ctx context.Context, svc *streams.Service, stream, key string, g *nexmark.Generator) (events, size int64, err error) {
	recs := make([]streams.Record, 0, streams.MaxRecordsPerPut)
	ends := make([]int, 0, streams.MaxRecordsPerPut)
	buf := make([]byte, 0, 1<<20)
	var e nexmark.Event
	put := func() error {
		// buf may have moved while it grew: point the records at their JSON only now.
		at := 0
		for _, end := range ends {
			recs = append(recs, streams.Record{PartitionKey: key, Data: buf[at:end:end]})
			at = end
		}
		res, err := svc.Put(ctx, stream, recs)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("%d of %d records not stored: %w", streams.Failed(res), len(recs), r.Err)
			}
		}
		events += int64(len(recs))
		size += int64(len(buf))
		recs, ends, buf = recs[:0], ends[:0], buf[:0]
		return nil
	}
	for g.Next(&e) {
		buf = nexmark.AppendJSON(buf, &e)
		ends = append(ends, len(buf))
		if len(ends) == streams.MaxRecordsPerPut || len(buf) > streams.MaxPutBytes/2 {
			if err := put(); err != nil {
				return events, size, err
			}
		}
	}
	if len(ends) > 0 {
		if err := put(); err != nil {
			return events, size, err
		}
	}
	return events, size, nil
}

// keysPerShard finds, for each open shard, a partition key the stream routes to it.
func keysPerShard(shards []streams.ShardInfo) []string {
	var open []streams.ShardInfo
	for _, sh := range shards {
		if !sh.Closed {
			open = append(open, sh)
		}
	}
	keys := make([]string, len(open))
	found := 0
	for i := 0; found < len(open); i++ {
		k := "events-" + strconv.Itoa(i)
		h := streams.HashKey(k)
		for j, sh := range open {
			if keys[j] == "" && h >= sh.HashKeyStart && h <= sh.HashKeyEnd {
				keys[j] = k
				found++
			}
		}
	}
	return keys
}
