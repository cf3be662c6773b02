package streams

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// StartKind says where a reader starts in a shard.
type StartKind string

// Where a reader can start.
const (
	// TrimHorizon starts at the oldest record still retained.
	TrimHorizon StartKind = "TRIM_HORIZON"
	// Latest starts after the newest record: the reader sees only what arrives next.
	Latest StartKind = "LATEST"
	// AtSequence starts at a given record.
	AtSequence StartKind = "AT_SEQUENCE"
	// AfterSequence starts just after a given record.
	AfterSequence StartKind = "AFTER_SEQUENCE"
	// AtTimestamp starts at the first record that arrived at or after a time.
	AtTimestamp StartKind = "AT_TIMESTAMP"
)

// Start is a reader's starting point.
type Start struct {
	Kind      StartKind
	Sequence  SequenceNumber
	Timestamp time.Time
}

// Cursor is a reading position: the next read returns records stored at or after it.
// Shard "" reads every shard of the stream, in the order the records were stored.
type Cursor struct {
	Stream string
	Shard  string
	seq    uint64 // JetStream sequence of the next batch to read
	index  int    // first record to return from that batch
}

// Token encodes the cursor as an opaque string for API callers (a shard iterator).
func (c Cursor) Token() string {
	raw := "1|" + c.Stream + "|" + c.Shard + "|" + strconv.FormatUint(c.seq, 10) + "|" + strconv.Itoa(c.index)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes a Token.
func ParseCursor(token string) (Cursor, error) {
	bad := apierr.New(apierr.Invalid, "InvalidIterator", "shard iterator %q is malformed: get a new one", token)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 5 || parts[0] != "1" || ValidateName(parts[1]) != nil {
		return Cursor{}, bad
	}
	seq, err1 := strconv.ParseUint(parts[3], 10, 64)
	idx, err2 := strconv.Atoi(parts[4])
	if err1 != nil || err2 != nil || idx < 0 || idx > maxRecordsPerMessage {
		return Cursor{}, bad
	}
	return Cursor{Stream: parts[1], Shard: parts[2], seq: seq, index: idx}, nil
}

// ReadResult is what one read returns.
type ReadResult struct {
	Records []StoredRecord
	// Next is where the following read continues.
	Next Cursor
	// More says records after Next are already stored: read again without waiting.
	More bool
	// BehindLatest is how far the last returned record's arrival lags the newest
	// record's; zero when the reader is caught up.
	BehindLatest time.Duration
	// ShardEnded says the shard is closed by a reshard and the reader has read all of
	// it; continue with its children.
	ShardEnded bool
}

// Read limits.
const (
	DefaultReadLimit = 1000
	MaxReadLimit     = 10_000
	MaxReadWait      = 60 * time.Second
)

func errShardNotFound(stream, shard string) error {
	return apierr.New(apierr.NotFound, "ShardNotFound", "stream %q has no shard %q", stream, shard)
}

// shardMeta is what a reader needs to know about its shard.
type shardMeta struct {
	subject  string
	closedAt uint64 // 0 while the shard is open
}

func (s *Service) shardMeta(ctx context.Context, stream, shard string) (shardMeta, error) {
	if shard == "" {
		if _, err := s.streamInfo(ctx, stream); err != nil {
			return shardMeta{}, err
		}
		return shardMeta{subject: streamSubjects(stream)}, nil
	}
	info, err := s.streamInfo(ctx, stream)
	if err != nil {
		return shardMeta{}, err
	}
	gens, err := decodeGenerations(info.Config.Metadata[metaGenerations])
	if err != nil {
		return shardMeta{}, fmt.Errorf("stream %q: %w", stream, err)
	}
	g, ok := findShard(gens, shard)
	if !ok {
		return shardMeta{}, errShardNotFound(stream, shard)
	}
	return shardMeta{subject: shardSubject(stream, shard), closedAt: g.ClosedAt}, nil
}

// Cursor resolves a starting point in a shard (or, with shard "", the whole stream) to
// a cursor. Starting at or after a sequence number that has left the retention window is
// an error (SequenceTrimmed) rather than a silent skip, so a job restoring a checkpoint
// learns it lost data.
func (s *Service) Cursor(ctx context.Context, stream, shard string, start Start) (Cursor, error) {
	if err := ValidateName(stream); err != nil {
		return Cursor{}, err
	}
	meta, err := s.shardMeta(ctx, stream, shard)
	if err != nil {
		return Cursor{}, err
	}
	cur := Cursor{Stream: stream, Shard: shard}
	switch start.Kind {
	case TrimHorizon, "":
		return cur, nil
	case Latest:
		info, err := s.streamInfo(ctx, stream)
		if err != nil {
			return Cursor{}, err
		}
		cur.seq = info.State.LastSeq + 1
		return cur, nil
	case AtTimestamp:
		return s.cursorAtTime(ctx, stream, shard, start.Timestamp)
	case AtSequence, AfterSequence:
		seq := start.Sequence
		info, err := s.streamInfo(ctx, stream)
		if err != nil {
			return Cursor{}, err
		}
		ms := seq.messageSeq()
		if ms == 0 || ms > info.State.LastSeq {
			return Cursor{}, apierr.New(apierr.Invalid, "InvalidSequenceNumber", "sequence number %s is beyond the end of stream %q", seq, stream)
		}
		if ms < info.State.FirstSeq {
			return Cursor{}, apierr.New(apierr.Gone, "SequenceTrimmed", "sequence number %s of stream %q has left the retention window (%s); the oldest retained record is newer", seq, stream, fmtHours(info.Config.MaxAge))
		}
		res, err := s.reads.get(ctx, jsName(stream), getRequest{Seq: ms})
		if err != nil {
			return Cursor{}, err
		}
		if len(res.batches) == 0 {
			return Cursor{}, apierr.New(apierr.Gone, "SequenceTrimmed", "sequence number %s of stream %q has left the retention window", seq, stream)
		}
		b := res.batches[0]
		if !subjectMatches(meta.subject, b.subject) || seq.index() >= b.hdr.count {
			return Cursor{}, apierr.New(apierr.Invalid, "InvalidSequenceNumber", "sequence number %s is not a record of %s", seq, where(stream, shard))
		}
		cur.seq, cur.index = ms, seq.index()
		if start.Kind == AfterSequence {
			cur.index++
		}
		return cur, nil
	default:
		return Cursor{}, apierr.New(apierr.Invalid, "InvalidStart", "unknown start %q: use TRIM_HORIZON, LATEST, AT_SEQUENCE, AFTER_SEQUENCE or AT_TIMESTAMP", start.Kind)
	}
}

func where(stream, shard string) string {
	if shard == "" {
		return fmt.Sprintf("stream %q", stream)
	}
	return fmt.Sprintf("shard %s of stream %q", shard, stream)
}

func subjectMatches(filter, subject string) bool {
	if p, ok := strings.CutSuffix(filter, "*"); ok {
		return strings.HasPrefix(subject, p)
	}
	return filter == subject
}

func (s *Service) cursorAtTime(ctx context.Context, stream, shard string, t time.Time) (Cursor, error) {
	subject := streamSubjects(stream)
	if shard != "" {
		subject = shardSubject(stream, shard)
	}
	t = t.UTC()
	res, err := s.reads.get(ctx, jsName(stream), getRequest{StartTime: &t, NextFor: subject})
	if err != nil {
		return Cursor{}, err
	}
	cur := Cursor{Stream: stream, Shard: shard}
	if len(res.batches) > 0 {
		cur.seq = res.batches[0].seq
		return cur, nil
	}
	info, err := s.streamInfo(ctx, stream)
	if err != nil {
		return Cursor{}, err
	}
	cur.seq = info.State.LastSeq + 1
	return cur, nil
}

// Read returns up to limit records from the cursor on. With wait > 0 and nothing to
// return yet, it waits up to wait for records to arrive (a long poll).
func (s *Service) Read(ctx context.Context, cur Cursor, limit int, wait time.Duration) (ReadResult, error) {
	if limit <= 0 {
		limit = DefaultReadLimit
	}
	if limit > MaxReadLimit {
		return ReadResult{}, apierr.New(apierr.Invalid, "InvalidLimit", "limit must be 1..%d, got %d", MaxReadLimit, limit)
	}
	if wait < 0 || wait > MaxReadWait {
		return ReadResult{}, apierr.New(apierr.Invalid, "InvalidWait", "wait must be 0..%s, got %s", MaxReadWait, wait)
	}
	r := s.newReader(cur)
	meta, err := s.shardMeta(ctx, cur.Stream, cur.Shard)
	if err != nil {
		return ReadResult{}, err
	}
	r.meta = meta
	return r.read(ctx, limit, wait)
}

// reader reads one shard (or a whole stream) from a cursor. It learns how many records
// the shard's batches hold, so it asks JetStream for about as many batches as a read
// needs: asking for too many moves and checksums data the read then drops.
type reader struct {
	svc    *Service
	cur    Cursor
	meta   shardMeta
	perMsg float64 // records per batch seen so far
	buf    []StoredRecord
}

// initialPerMsg is the first guess of records per batch. It errs high: fetching too few
// batches costs another round trip, fetching too many costs copying the surplus.
const initialPerMsg = 500

func (s *Service) newReader(cur Cursor) *reader {
	return &reader{svc: s, cur: cur, perMsg: initialPerMsg}
}

// read returns up to limit records, waiting up to wait when there are none.
func (r *reader) read(ctx context.Context, limit int, wait time.Duration) (ReadResult, error) {
	res, err := r.fetch(ctx, limit)
	if err != nil || len(res.Records) > 0 || res.ShardEnded || wait <= 0 {
		return res, err
	}
	return r.waitAndFetch(ctx, limit, wait)
}

// waitAndFetch long-polls: it listens on the shard's subject, which every publish to
// the shard also reaches, and reads again when something arrives.
func (r *reader) waitAndFetch(ctx context.Context, limit int, wait time.Duration) (ReadResult, error) {
	signal := make(chan struct{}, 1)
	sub, err := r.svc.nc.Subscribe(r.meta.subject, func(*nats.Msg) {
		select {
		case signal <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return ReadResult{}, fmt.Errorf("wait for records: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		// Read again after subscribing, so a record stored in between is not missed.
		res, err := r.fetch(ctx, limit)
		if err != nil || len(res.Records) > 0 || res.ShardEnded {
			return res, err
		}
		select {
		case <-signal:
			// The publish reaches subscribers about when JetStream stores it; give the
			// store a moment if the record is not readable yet.
			for delay := time.Millisecond; delay <= 32*time.Millisecond; delay *= 2 {
				res, err := r.fetch(ctx, limit)
				if err != nil || len(res.Records) > 0 {
					return res, err
				}
				time.Sleep(delay)
			}
		case <-timer.C:
			return r.fetch(ctx, limit)
		case <-ctx.Done():
			return ReadResult{Next: r.cur}, nil
		}
	}
}

// maxFetchBatches caps the batches one direct get asks for; maxFetchBytes caps its bytes.
const maxFetchBatches = 4096

// fetch reads without waiting, in as many direct gets as it takes to reach limit or the
// end of what is stored.
func (r *reader) fetch(ctx context.Context, limit int) (ReadResult, error) {
	cur, meta := r.cur, r.meta
	out := ReadResult{Records: r.buf[:0], Next: cur}
	if meta.closedAt != 0 && cur.seq > meta.closedAt {
		out.ShardEnded = true
		return out, nil
	}
	var last *storedBatch
	for len(out.Records) < limit {
		need := float64(limit - len(out.Records))
		req := getRequest{Seq: cur.seq, NextFor: meta.subject, Batch: min(int(need/r.perMsg)+1, maxFetchBatches), MaxBytes: maxFetchBytes, UpToSeq: meta.closedAt}
		res, err := r.svc.reads.get(ctx, jsName(cur.Stream), req)
		if err != nil {
			return ReadResult{}, err
		}
		records := 0
		for bi := range res.batches {
			b := &res.batches[bi]
			records += b.hdr.count
			first := 0
			if b.seq == cur.seq {
				first = cur.index
			}
			shard := shardOfSubject(b.subject)
			br := batchReader{p: b.records}
			for i := 0; i < b.hdr.count; i++ {
				var rec Record
				if err := br.next(&rec); err != nil {
					return ReadResult{}, fmt.Errorf("read %s at message %d: %w", where(cur.Stream, shard), b.seq, err)
				}
				if i < first {
					continue
				}
				if len(out.Records) == limit {
					// Cut inside this batch: the next read starts at record i.
					cur = Cursor{Stream: cur.Stream, Shard: cur.Shard, seq: b.seq, index: i}
					out.More = true
					out.BehindLatest = max(time.Since(b.time), 0)
					return r.done(out, cur), nil
				}
				out.Records = append(out.Records, StoredRecord{Record: rec, Shard: shard, Sequence: newSequence(b.seq, i), ArrivalTime: b.time})
			}
			cur = Cursor{Stream: cur.Stream, Shard: cur.Shard, seq: b.seq + 1}
			last = b
		}
		if len(res.batches) > 0 {
			// The newest batches predict the next ones best: batch sizes follow the load.
			r.perMsg = float64(records) / float64(len(res.batches))
		}
		out.More = res.pending > 0
		if !out.More || len(res.batches) == 0 {
			if meta.closedAt != 0 && len(res.batches) == 0 {
				out.ShardEnded = true
			}
			break
		}
	}
	if out.More && last != nil {
		out.BehindLatest = max(time.Since(last.time), 0)
	}
	return r.done(out, cur), nil
}

// done moves the reader to cur and counts what it returns.
func (r *reader) done(out ReadResult, cur Cursor) ReadResult {
	out.Next = cur
	r.cur = cur
	r.buf = out.Records
	r.svc.metrics.recordsRead.Add(float64(len(out.Records)))
	return out
}

// Iterator reads a shard (or a whole stream) from a starting point onwards, reusing its
// buffers: the records a call returns are valid until the next call.
type Iterator struct {
	r        *reader
	caughtUp bool
}

// NewIterator starts an iterator; shard "" reads every shard in stored order.
func (s *Service) NewIterator(ctx context.Context, stream, shard string, start Start) (*Iterator, error) {
	cur, err := s.Cursor(ctx, stream, shard, start)
	if err != nil {
		return nil, err
	}
	return s.IteratorAt(ctx, cur)
}

// IteratorAt starts an iterator at a cursor, such as one saved in a checkpoint.
func (s *Service) IteratorAt(ctx context.Context, cur Cursor) (*Iterator, error) {
	meta, err := s.shardMeta(ctx, cur.Stream, cur.Shard)
	if err != nil {
		return nil, err
	}
	r := s.newReader(cur)
	r.meta = meta
	return &Iterator{r: r}, nil
}

// CaughtUp reports whether the last call to Next returned everything stored at the time.
func (it *Iterator) CaughtUp() bool { return it.caughtUp }

// Next returns up to limit records, waiting up to wait for some when there are none.
// An empty result with ended set means the shard was closed and fully read.
func (it *Iterator) Next(ctx context.Context, limit int, wait time.Duration) (recs []StoredRecord, ended bool, err error) {
	r := it.r
	res, err := r.fetch(ctx, limit)
	if err == nil && len(res.Records) == 0 && !res.ShardEnded && wait > 0 {
		// The shard may have been closed since the iterator started.
		if r.meta, err = r.svc.shardMeta(ctx, r.cur.Stream, r.cur.Shard); err != nil {
			return nil, false, err
		}
		res, err = r.waitAndFetch(ctx, limit, wait)
	}
	if err != nil {
		return nil, false, err
	}
	it.caughtUp = !res.More
	return res.Records, res.ShardEnded, nil
}

// Cursor is where the next call to Next continues.
func (it *Iterator) Cursor() Cursor { return it.r.cur }

// Watch signals on C whenever a record batch is published to the stream (to any shard),
// so a reader that has caught up can sleep until there is something to read. Signals
// coalesce; a signal may also come for a batch JetStream then refused.
type Watch struct {
	C   <-chan struct{}
	sub *nats.Subscription
}

// Watch starts watching a stream; Close it when done.
func (s *Service) Watch(stream string) (*Watch, error) {
	if err := ValidateName(stream); err != nil {
		return nil, err
	}
	c := make(chan struct{}, 1)
	sub, err := s.nc.Subscribe(streamSubjects(stream), func(*nats.Msg) {
		select {
		case c <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("watch stream %q: %w", stream, err)
	}
	return &Watch{C: c, sub: sub}, nil
}

// Close stops the watch.
func (w *Watch) Close() { _ = w.sub.Unsubscribe() }
