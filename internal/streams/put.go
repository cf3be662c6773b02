package streams

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// stream is the in-memory state of one stream this server writes to.
type stream struct {
	svc  *Service
	name string

	// mu guards gens and writers. Puts hold it shared while they route records to
	// writers; a reshard holds it exclusively while it drains the old writers.
	mu        sync.RWMutex
	gens      []generation
	writers   []*shardWriter
	retention time.Duration

	dedupe *dedupe
}

func (st *stream) setRetention(d time.Duration) {
	st.mu.Lock()
	st.retention = d
	st.mu.Unlock()
}

func (st *stream) startWriters() {
	open := st.gens[len(st.gens)-1]
	st.writers = make([]*shardWriter, open.Count)
	for i := range st.writers {
		st.writers[i] = newShardWriter(st, ShardID(open.First+i))
	}
}

func (st *stream) stopWriters() {
	st.mu.Lock()
	ws := st.writers
	st.writers = nil
	st.mu.Unlock()
	for _, w := range ws {
		w.stop()
	}
}

// PutResult is the outcome for one record of a put.
type PutResult struct {
	Shard    string
	Sequence SequenceNumber
	// Duplicate says the record repeated a producer record id seen inside the dedupe
	// window; Sequence is then the first copy's.
	Duplicate bool
	// Err is set when this record was not stored; other records of the put may have been.
	Err *apierr.Error
}

// putCall tracks one put until all its records are acknowledged.
type putCall struct {
	results   []PutResult
	remaining atomic.Int32
	done      chan struct{}
}

func (c *putCall) finish(n int) {
	if c.remaining.Add(int32(-n)) == 0 {
		close(c.done)
	}
}

// Put stores records and reports, per record, its shard and sequence number or why it was
// not stored. A request that is invalid as a whole writes nothing and returns an error.
// Records of one partition key are stored in the order given.
func (s *Service) Put(ctx context.Context, name string, recs []Record) ([]PutResult, error) {
	if err := validateRecords(recs); err != nil {
		return nil, err
	}
	st, err := s.load(ctx, name)
	if err != nil {
		return nil, err
	}
	call := &putCall{results: make([]PutResult, len(recs)), done: make(chan struct{})}
	call.remaining.Store(int32(len(recs)) + 1)

	var dups []pendingDup
	st.mu.RLock()
	if st.writers == nil {
		st.mu.RUnlock()
		return nil, errStreamNotFound(name)
	}
	n := len(st.writers)
	// Route records to shards, then hand each shard's records to its writer at once.
	shardOf := make([]int32, len(recs))
	perShard := make([]int32, n)
	var reserved map[int]*dedupeEntry
	for i := range recs {
		sh := int32(shardIndex(HashKey(recs[i].PartitionKey), n))
		call.results[i].Shard = st.writers[sh].id
		if id := recs[i].ProducerID; id != "" {
			e, dup := st.dedupe.reserve(id)
			if dup {
				dups = append(dups, pendingDup{index: i, entry: e})
				shardOf[i] = -1
				continue
			}
			if reserved == nil {
				reserved = map[int]*dedupeEntry{}
			}
			reserved[i] = e
		}
		shardOf[i] = sh
		perShard[sh]++
	}
	nQueued := 0
	for sh, cnt := range perShard {
		if cnt == 0 {
			continue
		}
		items := make([]queued, 0, cnt)
		for i := range recs {
			if shardOf[i] == int32(sh) {
				items = append(items, queued{rec: &recs[i], res: &call.results[i], call: call, dedupe: reserved[i]})
			}
		}
		st.writers[sh].enqueue(items)
		nQueued += len(items)
	}
	st.mu.RUnlock()
	// Duplicates are settled here, not by a writer.
	call.finish(len(recs) - nQueued + 1)

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, apierr.New(apierr.Unavailable, "PutAbandoned", "the put was abandoned before every record was acknowledged (%v); some records may be stored: retry with producer record ids to avoid duplicates", ctx.Err())
	}
	for _, d := range dups {
		if err := d.entry.wait(ctx); err != nil {
			call.results[d.index] = PutResult{Shard: call.results[d.index].Shard, Err: toAPIError(err)}
			continue
		}
		call.results[d.index] = PutResult{Shard: d.entry.shard, Sequence: d.entry.seq, Duplicate: true}
	}
	s.metrics.observePut(name, call.results, recs)
	return call.results, nil
}

type pendingDup struct {
	index int
	entry *dedupeEntry
}

// Failed counts the results that carry an error.
func Failed(results []PutResult) int {
	n := 0
	for i := range results {
		if results[i].Err != nil {
			n++
		}
	}
	return n
}

func toAPIError(err error) *apierr.Error {
	if e, ok := apierr.As(err); ok {
		return e
	}
	return apierr.New(apierr.Unavailable, "StoreUnavailable", "the stream store did not take the record: %v", err)
}

// reshard closes the open generation and opens one of count shards.
func (st *stream) reshard(ctx context.Context, count int) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.writers == nil {
		return errStreamNotFound(st.name)
	}
	for _, w := range st.writers {
		w.stop()
	}
	st.writers = nil
	s := st.svc
	info, err := s.streamInfo(ctx, st.name)
	if err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	gens := append([]generation(nil), st.gens...)
	last := &gens[len(gens)-1]
	last.ClosedAt = max(info.State.LastSeq, 1)
	last.ClosedTime = now
	gens = append(gens, generation{First: last.First + last.Count, Count: count, Created: now})
	// Generations whose records have all expired are forgotten, keeping the metadata
	// small however often a stream is resharded.
	for len(gens) > 2 && !gens[0].ClosedTime.IsZero() && now.Sub(gens[0].ClosedTime) > st.retention {
		gens = gens[1:]
	}
	cfg := info.Config
	cfg.Metadata = map[string]string{}
	for k, v := range info.Config.Metadata {
		cfg.Metadata[k] = v
	}
	cfg.Metadata[metaGenerations] = encodeGenerations(gens)
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		st.startWriters()
		return fmt.Errorf("reshard stream %q: %w", st.name, err)
	}
	st.gens = gens
	st.startWriters()
	return nil
}
