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
	return s.read(ctx, cur, limit, wait, nil)
}

// read is Read appending to buf, so an iterator can reuse its record slice.
func (s *Service) read(ctx context.Context, cur Cursor, limit int, wait time.Duration, buf []StoredRecord) (ReadResult, error) {
	meta, err := s.shardMeta(ctx, cur.Stream, cur.Shard)
	if err != nil {
		return ReadResult{}, err
	}
	res, err := s.fetch(ctx, cur, meta, limit, buf)
	if err != nil || len(res.Records) > 0 || res.ShardEnded || wait <= 0 {
		return res, err
	}
	return s.waitAndFetch(ctx, cur, meta, limit, wait, buf)
}

// waitAndFetch long-polls: it listens on the shard's subject, which every publish to
// the shard also reaches, and reads again when something arrives.
func (s *Service) waitAndFetch(ctx context.Context, cur Cursor, meta shardMeta, limit int, wait time.Duration, buf []StoredRecord) (ReadResult, error) {
	signal := make(chan struct{}, 1)
	sub, err := s.nc.Subscribe(meta.subject, func(*nats.Msg) {
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
		res, err := s.fetch(ctx, cur, meta, limit, buf)
		if err != nil || len(res.Records) > 0 || res.ShardEnded {
			return res, err
		}
		select {
		case <-signal:
			// The publish reaches subscribers about when JetStream stores it; give the
			// store a moment if the record is not readable yet.
			for delay := time.Millisecond; delay <= 32*time.Millisecond; delay *= 2 {
				res, err := s.fetch(ctx, cur, meta, limit, buf)
				if err != nil || len(res.Records) > 0 {
					return res, err
				}
				time.Sleep(delay)
			}
		case <-timer.C:
			return s.fetch(ctx, cur, meta, limit, buf)
		case <-ctx.Done():
			return ReadResult{Next: cur}, nil
		}
	}
}

// fetch reads once, without waiting.
func (s *Service) fetch(ctx context.Context, cur Cursor, meta shardMeta, limit int, buf []StoredRecord) (ReadResult, error) {
	out := ReadResult{Records: buf[:0], Next: cur}
	if meta.closedAt != 0 && cur.seq > meta.closedAt {
		out.ShardEnded = true
		return out, nil
	}
	// Ask for about as many batches as the limit could need, assuming batches of at
	// least a few records; the byte cap bounds the reply either way.
	req := getRequest{Seq: cur.seq, NextFor: meta.subject, Batch: min(max(limit/8, 4), 256), MaxBytes: maxFetchBytes, UpToSeq: meta.closedAt}
	res, err := s.reads.get(ctx, jsName(cur.Stream), req)
	if err != nil {
		return ReadResult{}, err
	}
	var last *storedBatch
	for bi := range res.batches {
		b := &res.batches[bi]
		first := 0
		if b.seq == cur.seq {
			first = cur.index
		}
		shard := shardOfSubject(b.subject)
		br := batchReader{p: b.records}
		for i := 0; i < b.hdr.count; i++ {
			if len(out.Records) == limit {
				out.Next = Cursor{Stream: cur.Stream, Shard: cur.Shard, seq: b.seq, index: i}
				out.More = true
				out.BehindLatest = behind(last, res, b)
				return out, nil
			}
			var r Record
			if err := br.next(&r); err != nil {
				return ReadResult{}, fmt.Errorf("read %s at message %d: %w", where(cur.Stream, shard), b.seq, err)
			}
			if i < first {
				continue
			}
			out.Records = append(out.Records, StoredRecord{Record: r, Shard: shard, Sequence: newSequence(b.seq, i), ArrivalTime: b.time})
		}
		out.Next = Cursor{Stream: cur.Stream, Shard: cur.Shard, seq: b.seq + 1}
		last = b
	}
	out.More = res.pending > 0
	if out.More && last != nil {
		out.BehindLatest = behind(last, res, nil)
	}
	if !out.More && meta.closedAt != 0 && len(res.batches) == 0 {
		out.ShardEnded = true
	}
	s.metrics.recordsRead.Add(float64(len(out.Records)))
	return out, nil
}

// behind estimates how far a reader lags: the age of what it last read relative to now.
func behind(last *storedBatch, _ fetchResult, cut *storedBatch) time.Duration {
	b := last
	if cut != nil {
		b = cut
	}
	if b == nil {
		return 0
	}
	return max(time.Since(b.time), 0)
}

// Iterator reads a shard (or a whole stream) from a starting point onwards, reusing its
// buffers: the records a call returns are valid until the next call.
type Iterator struct {
	svc  *Service
	cur  Cursor
	meta shardMeta
	buf  []StoredRecord
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
	return &Iterator{svc: s, cur: cur, meta: meta}, nil
}

// Next returns up to limit records, waiting up to wait for some when there are none.
// An empty result with ended set means the shard was closed and fully read.
func (it *Iterator) Next(ctx context.Context, limit int, wait time.Duration) (recs []StoredRecord, ended bool, err error) {
	res, err := it.svc.fetch(ctx, it.cur, it.meta, limit, it.buf)
	if err == nil && len(res.Records) == 0 && !res.ShardEnded && wait > 0 {
		// The shard may have been closed since the iterator started.
		if it.meta, err = it.svc.shardMeta(ctx, it.cur.Stream, it.cur.Shard); err != nil {
			return nil, false, err
		}
		res, err = it.svc.waitAndFetch(ctx, it.cur, it.meta, limit, wait, it.buf)
	}
	if err != nil {
		return nil, false, err
	}
	it.buf = res.Records
	it.cur = res.Next
	return res.Records, res.ShardEnded, nil
}

// Cursor is where the next call to Next continues.
func (it *Iterator) Cursor() Cursor { return it.cur }
