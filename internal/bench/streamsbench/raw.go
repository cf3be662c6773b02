package streamsbench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddy-streams/eddy/internal/bench/histogram"
)

// rawMaxPending bounds the baseline's unacknowledged async publishes, as a user tuning
// nats.go by hand would.
const rawMaxPending = 4096

// sendRing holds the send times of the publishes that may still be unacknowledged. It
// is larger than rawMaxPending, so a slot is never reused before its ack arrives.
const sendRing = 2 * rawMaxPending

// rawCase is the baseline: raw JetStream, one record per message, published
// asynchronously from one goroutine with up to rawMaxPending in flight, into a fresh
// stream on the same server; then an ordered consumer reads the messages back.
func (b *bench) rawCase(ctx context.Context, e *env, data []byte) (Result, error) {
	name := b.newStreamName("RAW_")
	subject := "raw." + name
	if _, err := e.log.JetStream.CreateStream(ctx, jetstream.StreamConfig{
		Name:      name,
		Subjects:  []string{subject},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		MaxAge:    24 * time.Hour,
	}); err != nil {
		return Result{}, fmt.Errorf("create raw stream: %w", err)
	}
	defer func() { _ = e.log.JetStream.DeleteStream(context.WithoutCancel(ctx), name) }()

	// The stream is new, so the message published n-th is stored at sequence n+1 unless
	// one failed; the ack handler finds its send time by sequence. The handler runs on
	// one goroutine, and PublishAsyncComplete closes after it returns, so lat needs no
	// lock.
	var (
		sent    [sendRing]atomic.Int64
		lat     histogram.Histogram
		acked   atomic.Int64
		failed  atomic.Int64
		lastErr atomic.Value
		start   = time.Now()
	)
	js, err := jetstream.New(e.log.Conn,
		jetstream.WithPublishAsyncMaxPending(rawMaxPending),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, _ *nats.Msg, ack *jetstream.PubAck) {
			lat.Record(time.Since(start) - time.Duration(sent[(ack.Sequence-1)%sendRing].Load()))
			acked.Add(1)
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			failed.Add(1)
			lastErr.Store(err.Error())
		}),
	)
	if err != nil {
		return Result{}, fmt.Errorf("open JetStream publisher: %w", err)
	}
	defer js.CleanupPublisher()

	// Wait for room in the window however long the store takes, as a user would,
	// instead of failing the publish after the default 200ms.
	stall := jetstream.WithStallWait(time.Minute)
	var sentN uint64 // publishes sent
	for ctx.Err() == nil {
		now := time.Since(start)
		if now >= b.cfg.Duration {
			break
		}
		sent[sentN%sendRing].Store(int64(now))
		if _, err := js.PublishAsync(subject, data, stall); err != nil {
			failed.Add(1)
			lastErr.Store(err.Error())
			continue
		}
		sentN++
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return Result{}, errors.New("raw JetStream publishes unacknowledged after a minute")
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	elapsed := time.Since(start)

	res := Result{
		Fsync: string(e.fsync), Path: PathRaw, Mode: "async", RecordBytes: len(data),
		Concurrency: rawMaxPending, RecordsPerCall: 1,
		Calls: int64(sentN), Records: acked.Load(), Failed: failed.Load(),
	}
	if s, ok := lastErr.Load().(string); ok {
		res.Error = s
	}
	res.setRates(elapsed, &lat)
	if res.Failed > 0 {
		// A failed publish shifts the sequences the send times are looked up by.
		res.P50Ms, res.P99Ms = 0, 0
	}

	read, err := rawReadBack(ctx, js, name, res.Records)
	if err != nil {
		return Result{}, err
	}
	read.Missing = res.Records - read.Records
	res.Read = &read
	return res, nil
}

// rawReadBack reads want messages of stream with an ordered consumer, the fastest way
// nats.go offers to read a stream from the start.
func rawReadBack(ctx context.Context, js jetstream.JetStream, stream string, want int64) (Read, error) {
	if want == 0 {
		return Read{}, nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return Read{}, fmt.Errorf("create ordered consumer: %w", err)
	}
	var (
		done        = make(chan struct{})
		once        sync.Once
		got, nbytes atomic.Int64
		start       = time.Now()
	)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		nbytes.Add(int64(len(m.Data())))
		if got.Add(1) == want {
			once.Do(func() { close(done) })
		}
	}, jetstream.PullMaxMessages(readLimit))
	if err != nil {
		return Read{}, fmt.Errorf("consume raw stream: %w", err)
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return Read{}, fmt.Errorf("raw read-back stalled after %d of %d messages", got.Load(), want)
	case <-ctx.Done():
		return Read{}, ctx.Err()
	}
	out := Read{Records: got.Load(), bytes: nbytes.Load()}
	out.setRates(time.Since(start))
	return out, nil
}
