package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// queued is one record waiting in a shard writer's queue.
type queued struct {
	rec    *Record
	res    *PutResult
	call   *putCall
	dedupe *dedupeEntry
}

// shardWriter appends records to one shard. It is the only writer of its shard in this
// process: records that arrive while a batch is being stored wait and go together in the
// next one (group commit), so one JetStream message, and with --fsync always one fsync,
// carries the records of many concurrent puts.
//
// Each message names the last sequence the writer saw on its subject
// (Nats-Expected-Last-Subject-Sequence): if anything else wrote to the shard, JetStream
// refuses the message, the writer re-reads the shard's tail and tries again, so the base
// offsets the batches carry stay exact. Each batch also carries a unique message id, so
// a retry after an unanswered publish is stored at most once.
type shardWriter struct {
	st      *stream
	id      string
	subject string

	mu          sync.Mutex
	cond        *sync.Cond // signals queue changes to the loop and to waiting puts
	queue       []queued
	spare       []queued
	queuedBytes int
	stopping    bool
	done        chan struct{}

	// Owned by the loop goroutine.
	enc        batchEncoder
	synced     bool   // lastSeq and nextOffset reflect the log
	lastSeq    uint64 // JetStream sequence of the shard's last message
	nextOffset uint64 // records the shard has held before the next batch
	nonce      string // makes message ids unique across writer incarnations
	batchNo    uint64
}

func newShardWriter(st *stream, id string) *shardWriter {
	var b [8]byte
	_, _ = rand.Read(b[:])
	w := &shardWriter{
		st: st, id: id, subject: shardSubject(st.name, id),
		done:  make(chan struct{}),
		nonce: hex.EncodeToString(b[:]),
	}
	w.cond = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// enqueue adds a put's records for this shard, waiting while the queue is full: a slow
// log slows producers down instead of growing memory.
func (w *shardWriter) enqueue(items []queued) {
	size := 0
	for i := range items {
		size += encodedSize(items[i].rec)
	}
	w.mu.Lock()
	for w.queuedBytes > 0 && w.queuedBytes+size > w.st.svc.opts.MaxQueuedBytes && !w.stopping {
		w.cond.Wait()
	}
	if w.stopping {
		w.mu.Unlock()
		err := apierr.New(apierr.Unavailable, "ShardClosed", "shard %s closed while the put was queued; retry", w.id)
		for i := range items {
			w.fail(items[i], err)
		}
		return
	}
	w.queue = append(w.queue, items...)
	w.queuedBytes += size
	w.cond.Broadcast()
	w.mu.Unlock()
}

// stop stores what is queued, then ends the writer.
func (w *shardWriter) stop() {
	w.mu.Lock()
	w.stopping = true
	w.cond.Broadcast()
	w.mu.Unlock()
	<-w.done
}

func (w *shardWriter) loop() {
	defer close(w.done)
	for {
		w.mu.Lock()
		for len(w.queue) == 0 && !w.stopping {
			w.cond.Wait()
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		batch := w.queue
		w.queue = w.spare[:0]
		w.queuedBytes = 0
		w.cond.Broadcast()
		w.mu.Unlock()

		w.storeAll(batch)

		clear(batch)
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
	}
}

// storeAll cuts the queue into messages no larger than MaxMessageBytes and stores each.
func (w *shardWriter) storeAll(batch []queued) {
	max := w.st.svc.opts.MaxMessageBytes
	for start := 0; start < len(batch); {
		end, size := start, 0
		for end < len(batch) && end-start < maxRecordsPerMessage {
			sz := encodedSize(batch[end].rec)
			if end > start && size+sz > max {
				break
			}
			size += sz
			end++
		}
		w.store(batch[start:end])
		start = end
	}
}

// store writes one batch and settles its records.
func (w *shardWriter) store(items []queued) {
	svc := w.st.svc
	w.batchNo++
	msgID := w.nonce + "-" + strconv.FormatUint(w.batchNo, 10)
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if !w.synced {
			var stored uint64
			if stored, err = w.sync(msgID); err != nil {
				break
			}
			if stored != 0 {
				// An earlier attempt whose answer was lost did store the batch.
				w.stored(items, stored)
				return
			}
		}
		w.enc.reset()
		for i := range items {
			w.enc.add(items[i].rec)
		}
		body := w.enc.finish(w.nextOffset)
		msg := &nats.Msg{Subject: w.subject, Data: body, Header: nats.Header{}}
		ctx, cancel := context.WithTimeout(context.Background(), svc.opts.PublishTimeout)
		start := time.Now()
		var ack *jetstream.PubAck
		ack, err = svc.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectLastSequencePerSubject(w.lastSeq))
		cancel()
		svc.metrics.publishSeconds.Observe(time.Since(start).Seconds())
		if err == nil {
			w.stored(items, ack.Sequence)
			return
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			// Someone else wrote to the shard, its records expired, or an unanswered
			// attempt of ours was stored after all: re-read the shard's tail.
			w.synced = false
			continue
		}
		if isTransient(err) {
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
			w.synced = false
			continue
		}
		break
	}
	w.synced = false
	aerr := toAPIError(storageError(err))
	svc.opts.Logger.Warn("store record batch", "stream", w.st.name, "shard", w.id, "records", len(items), "err", err)
	for i := range items {
		w.fail(items[i], aerr)
	}
}

func (w *shardWriter) fail(it queued, err *apierr.Error) {
	it.res.Err = err
	if it.dedupe != nil {
		w.st.dedupe.settle(it.rec.ProducerID, it.dedupe, w.id, 0, err)
	}
	it.call.finish(1)
}

// stored settles a batch JetStream stored at sequence seq.
func (w *shardWriter) stored(items []queued, seq uint64) {
	w.lastSeq = seq
	w.nextOffset += uint64(len(items))
	w.st.svc.metrics.batchRecords.Observe(float64(len(items)))
	for i := range items {
		it := &items[i]
		it.res.Sequence = newSequence(seq, i)
		if it.dedupe != nil {
			w.st.dedupe.settle(it.rec.ProducerID, it.dedupe, w.id, it.res.Sequence, nil)
		}
		it.call.finish(1)
	}
}

// sync reads the shard's last batch to learn its sequence and record offset. If that
// batch is the one with message id pending, an attempt whose answer was lost stored it,
// and sync returns its sequence.
func (w *shardWriter) sync(pending string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.st.svc.opts.PublishTimeout)
	defer cancel()
	last, err := w.st.svc.reads.last(ctx, jsName(w.st.name), w.subject)
	if err != nil {
		return 0, fmt.Errorf("read tail of shard %s: %w", w.id, err)
	}
	w.synced = true
	if last == nil {
		w.lastSeq = 0
		return 0, nil
	}
	if last.msgID == pending {
		w.nextOffset = last.hdr.baseOffset
		return last.seq, nil
	}
	w.lastSeq = last.seq
	w.nextOffset = last.hdr.baseOffset + uint64(last.hdr.count)
	return 0, nil
}

func isTransient(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)
}

// storageError turns JetStream's "out of space" answers into StoreFull.
func storageError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10047, 10023, 10028: // storage resources exceeded, insufficient resources, max bytes
			return apierr.New(apierr.StorageFull, "StoreFull", "the stream store is full (%s): free space or raise --max-store; reads still work", apiErr.Description)
		}
	}
	if err != nil && (containsAny(err.Error(), "insufficient storage", "insufficient resources", "maximum bytes exceeded", "no space left")) {
		return apierr.New(apierr.StorageFull, "StoreFull", "the stream store is full (%v): free space or raise --max-store; reads still work", err)
	}
	return err
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
