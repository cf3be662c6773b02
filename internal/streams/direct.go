package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// directReader reads stored batches with JetStream's direct get API, which returns up
// to a batch of messages matching a subject in one request and keeps no state on the
// server. Every request of the service shares one wildcard reply subscription; replies
// are routed to the waiting request by the last token of their subject.
type directReader struct {
	nc     *nats.Conn
	prefix string
	sub    *nats.Subscription
	nextID atomic.Uint64

	mu      sync.Mutex
	waiting map[string]chan *nats.Msg
}

func newDirectReader(nc *nats.Conn) (*directReader, error) {
	d := &directReader{nc: nc, prefix: nc.NewRespInbox() + ".", waiting: map[string]chan *nats.Msg{}}
	sub, err := nc.Subscribe(d.prefix+"*", d.route)
	if err != nil {
		return nil, fmt.Errorf("subscribe for direct reads: %w", err)
	}
	// A batch may be large; never drop replies for a slow reader.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("set direct read limits: %w", err)
	}
	d.sub = sub
	return d, nil
}

func (d *directReader) close() { _ = d.sub.Unsubscribe() }

func (d *directReader) route(m *nats.Msg) {
	id := m.Subject[len(d.prefix):]
	d.mu.Lock()
	ch := d.waiting[id]
	d.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// storedBatch is one message of a shard as read back.
type storedBatch struct {
	seq     uint64
	time    time.Time
	subject string
	msgID   string
	hdr     batchHeader
	records []byte // the record section, CRC checked
}

type getRequest struct {
	Seq      uint64 `json:"seq,omitempty"`
	LastFor  string `json:"last_by_subj,omitempty"`
	NextFor  string `json:"next_by_subj,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	MaxBytes int    `json:"max_bytes,omitempty"`
	// StartTime asks for messages stored at or after it instead of from Seq.
	StartTime *time.Time `json:"start_time,omitempty"`
	UpToSeq   uint64     `json:"up_to_seq,omitempty"`
}

// fetchResult is what one direct get returned.
type fetchResult struct {
	batches []storedBatch
	// pending is how many matching messages the stream holds after the last one returned.
	pending uint64
}

// maxFetchBytes bounds one direct get's reply.
const maxFetchBytes = 8 << 20

// get sends one direct get request and collects its replies.
func (d *directReader) get(ctx context.Context, stream string, req getRequest) (fetchResult, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return fetchResult{}, err
	}
	id := strconv.FormatUint(d.nextID.Add(1), 36)
	ch := make(chan *nats.Msg, max(req.Batch, 1)+2)
	d.mu.Lock()
	d.waiting[id] = ch
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
	}()
	if err := d.nc.PublishRequest("$JS.API.DIRECT.GET."+stream, d.prefix+id, body); err != nil {
		return fetchResult{}, fmt.Errorf("direct get from %s: %w", stream, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	var res fetchResult
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return fetchResult{}, fmt.Errorf("direct get from %s: %w", stream, ctx.Err())
		}
		if status := m.Header.Get("Status"); status != "" {
			switch status {
			case "404":
				return res, nil
			case "204": // end of a batch
				res.pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
				return res, nil
			case "503":
				return fetchResult{}, fmt.Errorf("direct get from %s: no responders (stream deleted?)", stream)
			default:
				return fetchResult{}, fmt.Errorf("direct get from %s: status %s %s", stream, status, m.Header.Get("Description"))
			}
		}
		b, err := parseStored(m)
		if err != nil {
			return fetchResult{}, err
		}
		res.batches = append(res.batches, b)
		if req.Batch == 0 {
			return res, nil
		}
	}
}

func parseStored(m *nats.Msg) (storedBatch, error) {
	seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return storedBatch{}, fmt.Errorf("direct get: bad Nats-Sequence %q", m.Header.Get("Nats-Sequence"))
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
	if err != nil {
		return storedBatch{}, fmt.Errorf("direct get: bad Nats-Time-Stamp %q", m.Header.Get("Nats-Time-Stamp"))
	}
	subject := m.Header.Get("Nats-Subject")
	hdr, recs, err := decodeHeader(m.Data)
	if err != nil {
		return storedBatch{}, fmt.Errorf("message %d on %s: %w", seq, subject, err)
	}
	return storedBatch{seq: seq, time: ts, subject: subject, msgID: m.Header.Get("Nats-Msg-Id"), hdr: hdr, records: recs}, nil
}

// last returns a subject's last batch, or nil when it has none.
func (d *directReader) last(ctx context.Context, stream, subject string) (*storedBatch, error) {
	res, err := d.get(ctx, stream, getRequest{LastFor: subject})
	if err != nil || len(res.batches) == 0 {
		return nil, err
	}
	return &res.batches[0], nil
}

// bounds returns a subject's first and last batches, or nils when it has none.
func (d *directReader) bounds(ctx context.Context, stream, subject string) (first, last *storedBatch, err error) {
	res, err := d.get(ctx, stream, getRequest{NextFor: subject})
	if err != nil || len(res.batches) == 0 {
		return nil, nil, err
	}
	last, err = d.last(ctx, stream, subject)
	if err != nil || last == nil {
		return nil, nil, err
	}
	return &res.batches[0], last, nil
}

// shardOfSubject returns the shard id at the end of a record subject.
func shardOfSubject(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}
