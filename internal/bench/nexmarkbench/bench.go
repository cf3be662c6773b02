package nexmarkbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/nexmark"
	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/streams"
)

// Query is one Nexmark query as the benchmark runs it.
type Query struct {
	Name  string
	Title string
	// Target is the events/s the query should reach reading JSON events from an eddy
	// stream on a 2-core machine; 0 when it has none.
	Target float64
	timing timing
	// sampleEvery times one result in this many; per-event queries have millions.
	sampleEvery int64
	attach      func(events *flow.Stream[nexmark.Event], m *meter)
}

// Queries lists the queries the benchmark runs, in order.
func Queries() []Query {
	return []Query{
		{Name: "q0", Title: "pass-through", Target: 1_000_000, timing: perEvent, sampleEvery: 16,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q0(in), m) }},
		{Name: "q1", Title: "currency conversion", timing: perEvent, sampleEvery: 16,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q1(in), m) }},
		{Name: "q2", Title: "selection", timing: perEvent, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q2(in), m) }},
		{Name: "q3", Title: "local item suggestion (unbounded join)", timing: joined, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q3(in), m) }},
		{Name: "q4", Title: "average winning price per category", timing: onWatermark, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q4(in), m) }},
		{Name: "q5", Title: "hot items (sliding 10 s / 2 s)", Target: 250_000, timing: onWatermark, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q5(in), m) }},
		{Name: "q7", Title: "highest bid (tumbling 10 s)", Target: 250_000, timing: onWatermark, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q7(in), m) }},
		{Name: "q8", Title: "new users (tumbling 10 s join)", Target: 500_000, timing: joined, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q8(in), m) }},
		{Name: "q11", Title: "user sessions (10 s gap)", Target: 250_000, timing: onWatermark, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q11(in), m) }},
		{Name: "q12", Title: "processing-time windows (10 s)", timing: processingTime, sampleEvery: 1,
			attach: func(in *flow.Stream[nexmark.Event], m *meter) { measure(Q12(in), m) }},
	}
}

// QueryNames lists the names of Queries.
func QueryNames() []string {
	var names []string
	for _, q := range Queries() {
		names = append(names, q.Name)
	}
	return names
}

// Config chooses what a run measures.
type Config struct {
	// Queries are the names of the queries to run, in Queries' order.
	Queries []string
	// Sources to read from; each query runs once per source.
	Sources []Source
	// Events is how many events each run reads.
	Events int64
	// Rate is events per second of event time (the generator's FirstEventRate).
	Rate int64
	// Parallelism of the sources and of every keyed operator.
	Parallelism int
	// Shards of the preloaded stream (default: Parallelism).
	Shards int
	// OutOfOrderness is how far the watermarks trail the latest event time.
	OutOfOrderness time.Duration
	// Dir is where the embedded JetStream store goes (default: the system temp dir).
	Dir string
	// Progress, if set, receives a line as each step starts.
	Progress io.Writer
	// CheckpointInterval, when positive, runs every query with checkpoints to a fresh
	// file store under Dir at that interval, to measure what checkpointing costs.
	CheckpointInterval time.Duration
}

// DefaultRate is the default events per second of event time: 10 million events then
// span 10 s, as the published runs' 100 million do at their 10 million a second.
const DefaultRate = 1_000_000

// DefaultConfig runs q5 on 10 million events from both sources, with as many subtasks
// per operator as Go uses cores.
func DefaultConfig() Config {
	return Config{
		Queries:        []string{"q5"},
		Sources:        []Source{Memory, Stream},
		Events:         10_000_000,
		Rate:           DefaultRate,
		Parallelism:    runtime.GOMAXPROCS(0),
		OutOfOrderness: 4 * time.Second,
	}
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Queries) == 0 {
		errs = append(errs, errors.New("no query to run"))
	}
	known := QueryNames()
	for _, q := range c.Queries {
		if !slices.Contains(known, q) {
			errs = append(errs, fmt.Errorf("unknown query %q (have %s)", q, strings.Join(known, ", ")))
		}
	}
	if len(c.Sources) == 0 {
		errs = append(errs, errors.New("no source to read from"))
	}
	for _, s := range c.Sources {
		if s != Memory && s != Stream {
			errs = append(errs, fmt.Errorf("unknown source %q (want memory or stream)", s))
		}
	}
	if c.Events <= 0 {
		errs = append(errs, fmt.Errorf("events must be positive, got %d", c.Events))
	}
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate must be positive, got %d", c.Rate))
	}
	if c.Parallelism < 1 {
		errs = append(errs, fmt.Errorf("parallelism must be positive, got %d", c.Parallelism))
	}
	if c.Shards < 0 || c.Shards > streams.MaxShards {
		errs = append(errs, fmt.Errorf("shards must be 1..%d, got %d", streams.MaxShards, c.Shards))
	}
	if c.OutOfOrderness < 0 {
		errs = append(errs, fmt.Errorf("out-of-orderness must not be negative, got %s", c.OutOfOrderness))
	}
	return errors.Join(errs...)
}

// generator is the configuration of the events every run reads.
func (c *Config) generator() nexmark.Config {
	g := nexmark.DefaultConfig()
	g.MaxEvents = c.Events
	g.FirstEventRate = c.Rate
	return g
}

// Run measures every query of cfg from every source. The stream source's stream is
// filled once, before any query is timed. On error the report holds what finished.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Shards == 0 {
		cfg.Shards = cfg.Parallelism
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{
		StartedAt:      time.Now().UTC(),
		Events:         cfg.Events,
		Rate:           cfg.Rate,
		Parallelism:    cfg.Parallelism,
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
		CPUs:           runtime.NumCPU(),
		GoVersion:      runtime.Version(),
		OutOfOrderness: cfg.OutOfOrderness.String(),
	}
	defer rep.check()
	b := &bench{cfg: cfg, gen: cfg.generator(), rep: rep}
	if slices.Contains(cfg.Sources, Stream) {
		closeStore, err := b.openStore(ctx)
		if err != nil {
			return rep, err
		}
		defer closeStore()
	}
	for _, src := range []Source{Memory, Stream} {
		if !slices.Contains(cfg.Sources, src) {
			continue
		}
		b.progress("%s source alone, no job: %d events", src, cfg.Events)
		base, err := b.runBaseline(ctx, src)
		if err != nil {
			return rep, err
		}
		rep.Baselines = append(rep.Baselines, base)
	}
	for _, q := range Queries() {
		if !slices.Contains(cfg.Queries, q.Name) {
			continue
		}
		for _, src := range []Source{Memory, Stream} {
			if !slices.Contains(cfg.Sources, src) {
				continue
			}
			b.progress("%s from %s: %d events", q.Name, src, cfg.Events)
			res, err := b.runQuery(ctx, q, src)
			rep.Results = append(rep.Results, res)
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

type bench struct {
	cfg    Config
	gen    nexmark.Config
	rep    *Report
	svc    *streams.Service
	stream string
}

func (b *bench) progress(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// openStore starts an embedded JetStream in a temporary directory and fills the
// stream every stream-source run reads.
func (b *bench) openStore(ctx context.Context) (closeStore func(), err error) {
	dir, err := os.MkdirTemp(b.cfg.Dir, "eddy-bench-nexmark-")
	if err != nil {
		return nil, fmt.Errorf("make store dir: %w", err)
	}
	log, err := natslog.Open(natslog.Options{Dir: dir, Fsync: natslog.FsyncInterval, FsyncInterval: time.Second})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start embedded JetStream: %w", err)
	}
	svc, err := streams.Open(log.Conn, streams.Options{})
	if err != nil {
		_ = log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("open streams service: %w", err)
	}
	closeStore = func() {
		svc.Close()
		_ = log.Close()
		os.RemoveAll(dir)
	}
	b.svc, b.stream = svc, "nexmark"
	b.progress("preloading %d JSON events into stream %s (%d shards)", b.cfg.Events, b.stream, b.cfg.Shards)
	pre, err := Fill(ctx, svc, b.stream, b.cfg.Shards, b.gen)
	b.rep.Preload = &pre
	if err != nil {
		closeStore()
		return nil, err
	}
	return closeStore, nil
}

// runQuery runs one query over every event from one source.
func (b *bench) runQuery(ctx context.Context, q Query, src Source) (Result, error) {
	res := Result{Query: q.Name, Title: q.Title, Source: string(src)}
	span := b.cfg.Events*1000/b.cfg.Rate + 1
	prog := newProgress(b.gen.BaseTime, span, b.cfg.Parallelism)
	m := &meter{prog: prog, timing: q.timing, sampleEvery: q.sampleEvery, boundMs: b.cfg.OutOfOrderness.Milliseconds()}
	opts := flow.JobOptions{Parallelism: b.cfg.Parallelism}
	if b.cfg.CheckpointInterval > 0 {
		dir, err := os.MkdirTemp(b.cfg.Dir, "nexmark-checkpoints-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		store, err := flow.OpenBlobStore(ctx, "file://"+dir)
		if err != nil {
			return res, err
		}
		defer store.Close()
		opts.Checkpoints = &flow.CheckpointOptions{Store: store, Interval: b.cfg.CheckpointInterval}
	}
	job := flow.NewJob("nexmark-"+q.Name, opts)
	var (
		events *flow.Stream[nexmark.Event]
		err    error
	)
	if src == Memory {
		events, err = fromGenerator(job, b.gen, b.cfg.Parallelism, b.cfg.OutOfOrderness, prog)
	} else {
		events, err = fromStream(job, b.svc, b.stream, b.cfg.Parallelism, b.cfg.OutOfOrderness, prog)
	}
	if err != nil {
		return res, err
	}
	q.attach(events, m)
	runtime.GC()
	cpu0 := cpuTime()
	start := time.Now()
	err = flow.Run(ctx, job)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	if err != nil {
		res.Error = err.Error()
		return res, fmt.Errorf("%s from %s: %w", q.Name, src, err)
	}
	res.Events = prog.events()
	res.Results = m.results
	res.Seconds = elapsed.Seconds()
	res.EventsPerSec = float64(res.Events) / res.Seconds
	res.EventsPerSecPerCore = res.EventsPerSec / float64(b.rep.GOMAXPROCS)
	if cpu > 0 {
		res.CPUUtilization = cpu.Seconds() / (res.Seconds * float64(b.rep.GOMAXPROCS))
	}
	res.LatencySamples = int64(m.lat.Count())
	res.P50Ms = ms(m.lat.Quantile(0.5))
	res.P99Ms = ms(m.lat.Quantile(0.99))
	res.MaxMs = ms(m.lat.Max())
	if q.timing == onWatermark {
		res.P99PastWatermarkMs = ms(m.pastWM.Quantile(0.99))
	}
	for _, base := range b.rep.Baselines {
		if base.Source == res.Source && base.EventsPerSec > 0 {
			res.VsSource = res.EventsPerSec / base.EventsPerSec
		}
	}
	if res.Events != b.cfg.Events {
		res.Error = fmt.Sprintf("read %d events of %d", res.Events, b.cfg.Events)
		return res, fmt.Errorf("%s from %s: %s", q.Name, src, res.Error)
	}
	if m.unknown > 0 {
		res.Error = fmt.Sprintf("%d results had no reference time", m.unknown)
	}
	return res, nil
}

// Baseline is how fast a source delivers the events without a job: the generator's
// splits each looping on its own goroutine, or one goroutine per source subtask reading
// that subtask's shards with an Iterator and decoding every record. Each query's
// events/s is divided by it.
type Baseline struct {
	Source       string  `json:"source"`
	Events       int64   `json:"events"`
	Seconds      float64 `json:"seconds"`
	EventsPerSec float64 `json:"eventsPerSec"`
}

func (b *bench) runBaseline(ctx context.Context, src Source) (Baseline, error) {
	base := Baseline{Source: string(src)}
	p := b.cfg.Parallelism
	var shards []streams.ShardInfo
	if src == Stream {
		info, err := b.svc.Describe(ctx, b.stream)
		if err != nil {
			return base, fmt.Errorf("baseline: %w", err)
		}
		shards = info.Shards
	}
	counts := make([]int64, p)
	errs := make([]error, p)
	var wg sync.WaitGroup
	runtime.GC()
	start := time.Now()
	for i := range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if src == Memory {
				counts[i], errs[i] = generateAll(b.gen, i, p)
				return
			}
			for j := i; j < len(shards); j += p {
				n, err := readShard(ctx, b.svc, b.stream, shards[j].ID)
				counts[i] += n
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, n := range counts {
		base.Events += n
	}
	base.Seconds = elapsed.Seconds()
	base.EventsPerSec = float64(base.Events) / base.Seconds
	if err := errors.Join(errs...); err != nil {
		return base, fmt.Errorf("%s baseline: %w", src, err)
	}
	if base.Events != b.cfg.Events {
		return base, fmt.Errorf("%s baseline read %d events of %d", src, base.Events, b.cfg.Events)
	}
	return base, nil
}

func generateAll(cfg nexmark.Config, subtask, parallelism int) (int64, error) {
	g, err := nexmark.NewGenerator(cfg, subtask, parallelism)
	if err != nil {
		return 0, err
	}
	var e nexmark.Event
	var n int64
	for g.Next(&e) {
		n++
	}
	return n, nil
}

// readShard reads and decodes a shard from its start to its end, as the eddystream
// source does.
func readShard(ctx context.Context, svc *streams.Service, stream, shard string) (int64, error) {
	it, err := svc.NewIterator(ctx, stream, shard, streams.Start{Kind: streams.TrimHorizon})
	if err != nil {
		return 0, err
	}
	var e nexmark.Event
	var n int64
	for {
		recs, ended, err := it.Next(ctx, streams.MaxReadLimit, 0)
		if err != nil {
			return n, err
		}
		for i := range recs {
			if err := nexmark.DecodeJSON(recs[i].Data, &e); err != nil {
				return n, err
			}
			n++
		}
		if ended || len(recs) == 0 && it.CaughtUp() {
			return n, nil
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
