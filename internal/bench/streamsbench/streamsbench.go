// Package streamsbench measures eddy's streams service on an embedded JetStream it
// starts itself: put throughput and ack latency by fsync setting, record size, put size
// and producer count, then iterator read-back. Raw JetStream is measured on the same
// server in the same run, one record per message, as the baseline every eddy figure is
// divided by.
//
// Only acknowledged records count. Records are built before the clock starts, partition
// keys cycle through a fixed set, and every case writes to a fresh stream for the whole
// duration, so the figures are what a producer would see, not a best case.
package streamsbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/histogram"
	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Mode is how many records one put call carries.
type Mode string

const (
	// Single puts one record per call, like a producer that sends each event as it
	// happens.
	Single Mode = "single"
	// Batch puts MaxRecordsPerPut records per call.
	Batch Mode = "batch"
)

// records is how many records one put call of mode m carries.
func (m Mode) records() int {
	if m == Batch {
		return streams.MaxRecordsPerPut
	}
	return 1
}

// Config chooses the cases to run.
type Config struct {
	// Duration each put case runs for.
	Duration time.Duration
	// Fsync settings to compare; each gets its own embedded server and store.
	Fsync         []natslog.Fsync
	FsyncInterval time.Duration
	// Producers lists the numbers of concurrent producer goroutines to try.
	Producers []int
	// Shards of every stream created.
	Shards int
	// Sizes of record data, in bytes.
	Sizes []int
	Modes []Mode
	// Keys is how many distinct partition keys the producers cycle through.
	Keys int
	// HTTPClients is the number of concurrent HTTP clients for the HTTP put case; 0
	// skips it.
	HTTPClients int
	// Dir is where the temporary stores are made; empty means the system temp dir.
	// Put it on the disk you mean to deploy on: fsync on tmpfs costs nothing.
	Dir string
	// Progress, if set, receives a line as each case starts.
	Progress io.Writer
}

// DefaultConfig is the comparison `eddy bench streams` runs without flags: about three
// and a half minutes on two cores, most of it the 14 ten-second put cases and the
// read-back of what they wrote. One producer count keeps it that short; a lone producer
// (Producers 1) adds 8 cases.
func DefaultConfig() Config {
	return Config{
		Duration:      10 * time.Second,
		Fsync:         []natslog.Fsync{natslog.FsyncAlways, natslog.FsyncInterval},
		FsyncInterval: time.Second,
		Producers:     []int{4},
		Shards:        4,
		Sizes:         []int{100, 1024},
		Modes:         []Mode{Single, Batch},
		Keys:          10_000,
		HTTPClients:   8,
	}
}

func (c *Config) validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %s", c.Duration)
	case len(c.Fsync) == 0 || len(c.Producers) == 0 || len(c.Sizes) == 0 || len(c.Modes) == 0:
		return errors.New("need at least one fsync setting, producer count, record size and put mode")
	case c.Shards < streams.MinShards || c.Shards > streams.MaxShards:
		return fmt.Errorf("shards must be %d..%d, got %d", streams.MinShards, streams.MaxShards, c.Shards)
	case c.Keys < 1:
		return fmt.Errorf("keys must be positive, got %d", c.Keys)
	case c.HTTPClients < 0:
		return fmt.Errorf("HTTP clients must not be negative, got %d", c.HTTPClients)
	}
	for _, f := range c.Fsync {
		if f != natslog.FsyncAlways && f != natslog.FsyncInterval {
			return fmt.Errorf("unknown fsync setting %q (want always or interval)", f)
		}
	}
	for _, p := range c.Producers {
		if p < 1 {
			return fmt.Errorf("producer counts must be positive, got %d", p)
		}
	}
	for _, s := range c.Sizes {
		if s < 1 || s > streams.MaxRecordBytes {
			return fmt.Errorf("record sizes must be 1..%d bytes, got %d", streams.MaxRecordBytes, s)
		}
	}
	for _, m := range c.Modes {
		if m != Single && m != Batch {
			return fmt.Errorf("unknown put mode %q (want single or batch)", m)
		}
	}
	return nil
}

// Run runs every case of cfg and reports the figures. On error the report holds the
// cases finished so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{
		Duration:   cfg.Duration,
		Shards:     cfg.Shards,
		Keys:       cfg.Keys,
		CPUs:       runtime.NumCPU(),
		GoVersion:  runtime.Version(),
		StoreDir:   cfg.Dir,
		StartedAt:  time.Now().UTC(),
		ReadLimit:  readLimit,
		MaxPending: rawMaxPending,
	}
	if rep.StoreDir == "" {
		rep.StoreDir = os.TempDir()
	}
	b := &bench{cfg: cfg, keys: makeKeys(cfg.Keys), rep: rep}
	defer rep.check()
	for _, fs := range cfg.Fsync {
		if err := b.runFsync(ctx, fs); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// bench is one run.
type bench struct {
	cfg     Config
	keys    []string
	rep     *Report
	streams int // streams created so far, to name the next one
}

func makeKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%06d", i)
	}
	return keys
}

// payload is size bytes of random data, so nothing downstream gets to compress it.
func payload(size int) []byte {
	r := rand.New(rand.NewPCG(uint64(size), 42))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (b *bench) progress(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// env is one embedded server with a streams service over it.
type env struct {
	fsync natslog.Fsync
	log   *natslog.Log
	svc   *streams.Service
}

func (b *bench) runFsync(ctx context.Context, fs natslog.Fsync) error {
	dir, err := os.MkdirTemp(b.cfg.Dir, "eddy-bench-"+string(fs)+"-")
	if err != nil {
		return fmt.Errorf("make store dir: %w", err)
	}
	defer os.RemoveAll(dir)
	log, err := natslog.Open(natslog.Options{Dir: dir, Fsync: fs, FsyncInterval: b.cfg.FsyncInterval})
	if err != nil {
		return fmt.Errorf("start embedded JetStream (fsync %s): %w", fs, err)
	}
	defer log.Close()
	svc, err := streams.Open(log.Conn, streams.Options{})
	if err != nil {
		return fmt.Errorf("open streams service: %w", err)
	}
	defer svc.Close()
	e := &env{fsync: fs, log: log, svc: svc}

	for _, size := range b.cfg.Sizes {
		data := payload(size)
		b.progress("fsync=%s size=%dB: raw JetStream baseline", fs, size)
		raw, err := b.rawCase(ctx, e, data)
		if err != nil {
			return err
		}
		b.rep.Results = append(b.rep.Results, raw)
		for _, mode := range b.cfg.Modes {
			for _, p := range b.cfg.Producers {
				b.progress("fsync=%s size=%dB: eddy %s puts, %d producers", fs, size, mode, p)
				res, err := b.putCase(ctx, e, data, mode, p)
				if err != nil {
					return err
				}
				res.compare(&raw)
				b.rep.Results = append(b.rep.Results, res)
			}
		}
	}
	if b.cfg.HTTPClients > 0 {
		b.progress("fsync=%s: HTTP batch puts, %d clients", fs, b.cfg.HTTPClients)
		res, err := b.httpCase(ctx, e)
		if err != nil {
			return err
		}
		for i := range b.rep.Results {
			if r := &b.rep.Results[i]; r.Path == PathRaw && r.Fsync == res.Fsync && r.RecordBytes == res.RecordBytes {
				res.compare(r)
			}
		}
		b.rep.Results = append(b.rep.Results, res)
	}
	return nil
}

func (b *bench) newStreamName(prefix string) string {
	b.streams++
	return fmt.Sprintf("%s%d", prefix, b.streams)
}

// producer is one goroutine's prebuilt puts and what it measured.
type producer struct {
	calls [][]streams.Record
	tally
}

// tally is what one worker of a put case counted; workers keep their own, so the timed
// loop shares nothing, and the case merges them at the end.
type tally struct {
	lat     histogram.Histogram
	ncalls  int64
	acked   int64
	failed  int64
	lastErr error
}

// mergeTallies adds the workers' counts to res and sets its rates.
func mergeTallies(res *Result, elapsed time.Duration, ts []*tally) {
	var lat histogram.Histogram
	for _, t := range ts {
		lat.Merge(&t.lat)
		res.Calls += t.ncalls
		res.Records += t.acked
		res.Failed += t.failed
		if t.lastErr != nil {
			res.Error = t.lastErr.Error()
		}
	}
	res.setRates(elapsed, &lat)
}

// buildCalls prepares the puts of producer p: enough calls that its partition keys
// cycle through every key, starting at a different key for each producer.
func (b *bench) buildCalls(p, per int, data []byte) [][]streams.Record {
	n := (len(b.keys) + per - 1) / per
	recs := make([]streams.Record, n*per)
	offset := p * 7919 // a prime, so producers start at different keys
	for i := range recs {
		recs[i] = streams.Record{PartitionKey: b.keys[(offset+i)%len(b.keys)], Data: data}
	}
	calls := make([][]streams.Record, n)
	for i := range calls {
		calls[i] = recs[i*per : (i+1)*per : (i+1)*per]
	}
	return calls
}

func (p *producer) run(ctx context.Context, svc *streams.Service, stream string, deadline time.Time) {
	for i := 0; ctx.Err() == nil; i++ {
		start := time.Now()
		if !start.Before(deadline) {
			return
		}
		recs := p.calls[i%len(p.calls)]
		res, err := svc.Put(ctx, stream, recs)
		p.lat.Record(time.Since(start))
		p.ncalls++
		if err != nil {
			p.failed += int64(len(recs))
			p.lastErr = err
			continue
		}
		if f := streams.Failed(res); f > 0 {
			p.failed += int64(f)
			for i := range res {
				if res[i].Err != nil {
					p.lastErr = res[i].Err
				}
			}
			p.acked += int64(len(recs) - f)
			continue
		}
		p.acked += int64(len(recs))
	}
}

// putCase runs producers eddy puts into a fresh stream for the configured duration, then
// reads the stream back.
func (b *bench) putCase(ctx context.Context, e *env, data []byte, mode Mode, producers int) (Result, error) {
	name := b.newStreamName("bench-")
	if _, err := e.svc.Create(ctx, name, streams.Config{Shards: b.cfg.Shards}); err != nil {
		return Result{}, fmt.Errorf("create stream %s: %w", name, err)
	}
	defer func() { _ = e.svc.Delete(context.WithoutCancel(ctx), name) }()

	ps := make([]producer, producers)
	for i := range ps {
		ps[i].calls = b.buildCalls(i, mode.records(), data)
	}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(b.cfg.Duration)
	for i := range ps {
		wg.Go(func() { ps[i].run(ctx, e.svc, name, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}

	res := Result{
		Fsync: string(e.fsync), Path: PathEddy, Mode: string(mode), RecordBytes: len(data),
		Concurrency: producers, RecordsPerCall: mode.records(),
	}
	ts := make([]*tally, len(ps))
	for i := range ps {
		ts[i] = &ps[i].tally
	}
	mergeTallies(&res, elapsed, ts)

	read, err := readBack(ctx, e.svc, name)
	if err != nil {
		return Result{}, err
	}
	read.Missing = res.Records - read.Records
	res.Read = &read
	return res, nil
}

// readLimit is the number of records asked for per Iterator.Next.
const readLimit = 10_000

// readBack reads every shard of stream from its oldest record to its end, one iterator
// per shard, concurrently, as consumers of each shard would.
func readBack(ctx context.Context, svc *streams.Service, stream string) (Read, error) {
	info, err := svc.Describe(ctx, stream)
	if err != nil {
		return Read{}, fmt.Errorf("describe %s: %w", stream, err)
	}
	type shardRead struct {
		records, bytes int64
		err            error
	}
	reads := make([]shardRead, len(info.Shards))
	var wg sync.WaitGroup
	start := time.Now()
	for i, sh := range info.Shards {
		wg.Go(func() {
			r := &reads[i]
			it, err := svc.NewIterator(ctx, stream, sh.ID, streams.Start{Kind: streams.TrimHorizon})
			if err != nil {
				r.err = err
				return
			}
			for {
				recs, _, err := it.Next(ctx, readLimit, 0)
				if err != nil {
					r.err = err
					return
				}
				if len(recs) == 0 {
					return
				}
				r.records += int64(len(recs))
				for j := range recs {
					r.bytes += int64(len(recs[j].Data))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var out Read
	for i, r := range reads {
		if r.err != nil {
			return Read{}, fmt.Errorf("read back shard %s of %s: %w", info.Shards[i].ID, stream, r.err)
		}
		out.Records += r.records
		out.bytes += r.bytes
	}
	out.setRates(elapsed)
	return out, nil
}
