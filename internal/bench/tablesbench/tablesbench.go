// Package tablesbench measures eddy's tables with the TSBS cpu-only and iot data sets
// (internal/bench/tsbs): ingest through tables.Service.Write with durability on, the
// TSBS queries on the memory tier, tiering, bytes per stored value in the magnetic
// tier, and the same queries on the magnetic tier. A raw DuckDB Appender loading the
// same rows into plain DuckDB tables, in the same run, is the baseline the ingest
// figures are divided by; the HTTP JSON write endpoint, served in process, is measured
// beside Service.Write.
//
// Every run opens a real Service on a temporary directory with a fake clock set to the
// end of the data set's span, so the whole span is inside the memory retention; the
// tiering pass then moves the clock past the retention. Loaders generate their rows
// while they write, so the generator's cost is in every ingest figure, the baseline's
// included.
package tablesbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/tsbs"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// UseCase is a TSBS use case.
type UseCase string

// The use cases.
const (
	CPUOnly UseCase = "cpu-only"
	IoT     UseCase = "iot"
)

// tables are the eddy tables a use case writes, in the order they are reported.
func (u UseCase) tables() []string {
	if u == IoT {
		return []string{"readings", "diagnostics"}
	}
	return []string{"cpu"}
}

func (u UseCase) newGenerator(cfg tsbs.Config, split, splits int) (*tsbs.Generator, error) {
	if u == IoT {
		return tsbs.NewIoT(cfg, split, splits)
	}
	return tsbs.NewCPUOnly(cfg, split, splits)
}

// Database is the eddy database the bench creates its tables in.
const Database = "bench"

// Config chooses what a run measures.
type Config struct {
	// Duration caps each timed ingest run; a run also ends when the data set is
	// exhausted.
	Duration time.Duration
	UseCases []UseCase
	// Hosts is TSBS's --scale: hosts for cpu-only, trucks for iot.
	Hosts int
	// Span is how much time the data set covers for each use case; a zero entry takes
	// the span of the published figures the report compares with (12 h cpu-only, 24 h
	// iot).
	Span map[UseCase]time.Duration
	// Runs is how many timed ingest runs each loader count gets; the report gives their
	// median and spread.
	Runs int
	// Loaders lists the numbers of concurrent loader goroutines to try; the fastest is
	// the headline figure.
	Loaders []int
	// Batch is the records per write.
	Batch int
	// QueryRuns is how many timed executions each query gets, after warm-up ones.
	QueryRuns int
	// HTTP adds the HTTP JSON write path at the fastest loader count, with as many
	// clients as loaders.
	HTTP bool
	// Complete loads the rest of the span, untimed, when the last ingest run stopped at
	// Duration, so that the queries, the tiering and the bytes per value are those of
	// the whole data set.
	Complete bool
	Seed     uint64
	// Dir is where the temporary data directories are made; empty means the system temp
	// dir. Put it on the disk you deploy on: fsync on tmpfs costs nothing.
	Dir string
	// CPUProfile, if set, receives a CPU profile of the timed eddy ingest runs (not of
	// the baseline).
	CPUProfile io.Writer
	// Progress, if set, receives a line as each phase starts.
	Progress io.Writer
}

// DefaultConfig is `eddy bench tables` without flags: TSBS's 1,000 hosts, both use
// cases, three runs per loader count.
func DefaultConfig() Config {
	return Config{
		Duration:  30 * time.Second,
		UseCases:  []UseCase{CPUOnly, IoT},
		Hosts:     1000,
		Span:      map[UseCase]time.Duration{},
		Runs:      3,
		Loaders:   []int{2, 4},
		Batch:     5000,
		QueryRuns: 20,
		HTTP:      true,
		Complete:  true,
	}
}

// span is the data set's span for u.
func (c *Config) span(u UseCase) time.Duration {
	if s := c.Span[u]; s > 0 {
		return s
	}
	if u == IoT {
		return 24 * time.Hour
	}
	return 12 * time.Hour
}

func (c *Config) validate() error {
	switch {
	case c.Duration <= 0:
		return fmt.Errorf("duration must be positive, got %s", c.Duration)
	case len(c.UseCases) == 0 || len(c.Loaders) == 0:
		return errors.New("need at least one use case and one loader count")
	case c.Hosts < 1:
		return fmt.Errorf("hosts must be positive, got %d", c.Hosts)
	case c.Runs < 1 || c.QueryRuns < 1:
		return fmt.Errorf("runs and query runs must be positive, got %d and %d", c.Runs, c.QueryRuns)
	case c.Batch < 1 || c.Batch > tables.MaxRecordsPerWrite:
		return fmt.Errorf("batch must be 1..%d records, got %d", tables.MaxRecordsPerWrite, c.Batch)
	}
	for _, u := range c.UseCases {
		if u != CPUOnly && u != IoT {
			return fmt.Errorf("unknown use case %q (want cpu-only or iot)", u)
		}
		if s := c.span(u); s < 2*tsbsInterval || s > (tables.MaxMemoryRetentionHours-2)*time.Hour {
			return fmt.Errorf("span of %s must be %s to %dh, got %s", u, 2*tsbsInterval, tables.MaxMemoryRetentionHours-2, s)
		}
	}
	for _, l := range c.Loaders {
		if l < 1 {
			return fmt.Errorf("loader counts must be positive, got %d", l)
		}
	}
	return nil
}

// tsbsInterval is TSBS's default reporting interval, which the bench keeps.
const tsbsInterval = 10 * time.Second

// tsbsConfig is the data set of use case u.
func (c *Config) tsbsConfig(u UseCase) tsbs.Config {
	t := tsbs.DefaultConfig()
	t.Hosts = c.Hosts
	t.Duration = c.span(u)
	t.Seed = c.Seed
	return t
}

// Run measures every use case of cfg. On error the report holds what was measured so
// far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{
		StartedAt: time.Now().UTC(),
		Duration:  cfg.Duration,
		Hosts:     cfg.Hosts,
		Runs:      cfg.Runs,
		Batch:     cfg.Batch,
		QueryRuns: cfg.QueryRuns,
		CPU:       cpuModel(),
		CPUs:      runtime.NumCPU(),
		GoVersion: runtime.Version(),
		StoreDir:  cfg.Dir,
	}
	if rep.StoreDir == "" {
		rep.StoreDir = os.TempDir()
	}
	b := &bench{cfg: cfg}
	if cfg.CPUProfile != nil {
		b.profile = &profiler{w: cfg.CPUProfile}
		defer b.profile.stop()
	}
	defer rep.check()
	for _, u := range cfg.UseCases {
		uc := &UseCaseReport{UseCase: u}
		rep.UseCases = append(rep.UseCases, uc)
		if err := b.runUseCase(ctx, u, uc); err != nil {
			return rep, fmt.Errorf("%s: %w", u, err)
		}
	}
	return rep, nil
}

// bench is one Run.
type bench struct {
	cfg     Config
	profile *profiler
}

func (b *bench) progress(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// profiler profiles only the timed eddy ingest runs: pprof cannot pause a profile, so it
// stops the profile at the end of the first run and appends nothing after. The first run
// is enough: the runs repeat one another.
type profiler struct {
	w       io.Writer
	started bool
	err     error
}

func (p *profiler) start() {
	if p == nil || p.started {
		return
	}
	p.started = true
	p.err = pprof.StartCPUProfile(p.w)
}

func (p *profiler) stop() {
	if p != nil && p.started && p.err == nil {
		pprof.StopCPUProfile()
		p.err = errors.New("stopped") // never restart into the same writer
	}
}

func (b *bench) runUseCase(ctx context.Context, u UseCase, uc *UseCaseReport) error {
	tcfg := b.tsbsConfig(u)
	uc.Span = tcfg.Duration
	uc.Interval = tcfg.Interval
	uc.Tables = u.tables()

	// Ingest: each loader count, Runs times, baseline first; then HTTP at the fastest
	// count. Every eddy run but the last closes its store; the last one's is the
	// queries' data set.
	var (
		last      *env
		lastLoads []*loader
		lastDone  bool // whether last holds the whole data set
	)
	defer func() {
		if last != nil {
			last.close()
		}
	}()
	for _, loaders := range b.cfg.Loaders {
		base := IngestCase{Path: PathDuckDB, Loaders: loaders}
		for run := range b.cfg.Runs {
			b.progress("%s: DuckDB appender baseline, %d loaders, run %d of %d", u, loaders, run+1, b.cfg.Runs)
			r, err := b.baselineRun(ctx, u, tcfg, loaders)
			if err != nil {
				return err
			}
			base.Runs = append(base.Runs, r)
		}
		base.summarise()
		uc.Ingest = append(uc.Ingest, base)

		ec := IngestCase{Path: PathEddy, Loaders: loaders}
		for run := range b.cfg.Runs {
			b.progress("%s: eddy Service.Write, %d loaders, run %d of %d", u, loaders, run+1, b.cfg.Runs)
			e, err := b.openEnv(ctx, u, tcfg)
			if err != nil {
				return err
			}
			b.profile.start()
			r, ls, err := b.eddyRun(ctx, e, u, tcfg, loaders)
			b.profile.stop()
			if err != nil {
				e.close()
				return err
			}
			if last != nil {
				last.close()
			}
			last, lastLoads, lastDone = e, ls, r.Exhausted
			ec.Runs = append(ec.Runs, r)
		}
		ec.summarise()
		ec.VsBaseline = ratio(ec.RowsPerSec.Median, base.RowsPerSec.Median)
		uc.Ingest = append(uc.Ingest, ec)
	}
	if b.cfg.HTTP {
		best := uc.best()
		hc := IngestCase{Path: PathHTTP, Loaders: best.Loaders}
		for run := range b.cfg.Runs {
			b.progress("%s: eddy HTTP JSON writes, %d clients, run %d of %d", u, best.Loaders, run+1, b.cfg.Runs)
			r, err := b.httpRun(ctx, u, tcfg, best.Loaders)
			if err != nil {
				return err
			}
			hc.Runs = append(hc.Runs, r)
		}
		hc.summarise()
		for _, c := range uc.Ingest {
			if c.Path == PathDuckDB && c.Loaders == hc.Loaders {
				hc.VsBaseline = ratio(hc.RowsPerSec.Median, c.RowsPerSec.Median)
			}
		}
		uc.Ingest = append(uc.Ingest, hc)
	}
	if b.cfg.Complete && !lastDone {
		b.progress("%s: loading the rest of the data set for the queries", u)
		if err := last.finish(ctx, lastLoads); err != nil {
			return err
		}
	}

	// The data set the queries, the tiering and the bytes per value are measured on.
	ds, err := last.describe(ctx)
	if err != nil {
		return err
	}
	uc.Data = ds
	qs := queriesFor(u, tcfg, ds)
	if u == CPUOnly {
		// double-groupby-all again, asked of an hourly rollup a scheduled query keeps (after
		// checking that both give the same answer).
		b.progress("%s: hourly rollup by a scheduled query", u)
		rq, err := rollupQuery(ctx, last, ds)
		if err != nil {
			return err
		}
		qs = append(qs, rq)
	}
	b.progress("%s: queries on the memory tier", u)
	if uc.Memory, err = b.runQueries(ctx, last, qs); err != nil {
		return err
	}
	b.progress("%s: tiering to the magnetic tier", u)
	if uc.Tiering, err = last.tier(ctx, ds); err != nil {
		return err
	}
	b.progress("%s: queries on the magnetic tier", u)
	if uc.Magnetic, err = b.runQueries(ctx, last, qs); err != nil {
		return err
	}
	return nil
}

func (b *bench) tsbsConfig(u UseCase) tsbs.Config { return b.cfg.tsbsConfig(u) }

// ratio is a ÷ b, or 0 when b is.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// fakeClock is the Service's clock: the end of the data set's span while loading, past
// the memory retention for tiering.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// env is one Service with its engine on a temporary directory.
type env struct {
	dir       string
	clock     *fakeClock
	eng       *eddysql.Engine
	svc       *tables.Service
	tcfg      tsbs.Config
	retention int // memory retention, hours
	tables    []string
	// values is what the loads wrote, from the generators' counts.
	rows, values int64
}

func (b *bench) openEnv(ctx context.Context, u UseCase, tcfg tsbs.Config) (*env, error) {
	dir, err := os.MkdirTemp(b.cfg.Dir, "eddy-bench-tables-")
	if err != nil {
		return nil, fmt.Errorf("make data dir: %w", err)
	}
	// Whole hours covering the span, and one more, so the first rows are not at the
	// retention's edge.
	retention := int((tcfg.Duration+time.Hour-1)/time.Hour) + 1
	e := &env{
		dir: dir, tcfg: tcfg, retention: retention, tables: u.tables(),
		clock: &fakeClock{t: tcfg.Start.Add(tcfg.Duration)},
	}
	tablesDir := filepath.Join(dir, "tables")
	// As eddy serve opens them.
	e.eng, err = eddysql.Open(eddysql.Options{AllowedDirs: []string{tablesDir}, TempDir: filepath.Join(tablesDir, "tmp")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cat, err := tables.Open(tables.NewFileStore(dir), e.clock.Now)
	if err == nil {
		e.svc, err = tables.NewService(ctx, cat, e.eng, tables.Options{DataDir: tablesDir, Fsync: true, Now: e.clock.Now})
	}
	if err == nil {
		_, err = e.svc.CreateDatabase(Database)
	}
	for _, t := range e.tables {
		if err != nil {
			break
		}
		_, err = e.svc.CreateTable(Database, t, tables.TableOptions{MemoryRetentionHours: &retention})
	}
	if err != nil {
		e.close()
		return nil, fmt.Errorf("open tables service: %w", err)
	}
	return e, nil
}

func (e *env) close() {
	if e.svc != nil {
		_ = e.svc.Close()
	}
	_ = e.eng.Close()
	_ = os.RemoveAll(e.dir)
}

// writeFunc writes req to table of the bench's database, through one write path.
type writeFunc func(ctx context.Context, table string, req *tables.WriteRequest) (tables.WriteResult, error)

// serviceWrite is the in-process write path, Service.Write.
func serviceWrite(svc *tables.Service) writeFunc {
	return func(ctx context.Context, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
		return svc.Write(ctx, Database, table, req)
	}
}

// loader is one goroutine's split of the data set and what it wrote.
type loader struct {
	gen   *tsbs.Generator
	batch []tables.Record
	// writes counts the Write calls; rejected and rejectedValues the records (and their
	// values) the writes rejected.
	writes, rejected, rejectedValues int64
	err                              error
}

// load writes the loader's records until deadline (zero: none) or until its split is
// exhausted; it reports whether it is.
//
// Only version conflicts may be rejected: TSBS's iot data set has a few rows whose
// identity repeats with other values (a truck's row that lost its name tag has the
// dimensions of another truck that lost its own at the same time), which eddy, like
// Timestream, refuses at the same version. Any other rejection fails the load: it is a
// bug or a mistake in the bench's settings.
func (l *loader) load(ctx context.Context, write writeFunc, deadline time.Time) bool {
	for ctx.Err() == nil {
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return false
		}
		n, table := l.gen.Next(l.batch)
		if n == 0 {
			return true
		}
		res, err := write(ctx, table, &tables.WriteRequest{Records: l.batch[:n]})
		l.writes++
		for _, r := range res.Rejected {
			if r.Code != tables.CodeVersionConflict && err == nil {
				err = fmt.Errorf("record %d of %d rejected with %s: %s", r.Index, n, r.Code, r.Reason)
			}
			l.rejected++
			l.rejectedValues += int64(len(l.batch[r.Index].Measures))
		}
		if err != nil {
			l.err = fmt.Errorf("write to %s: %w", table, err)
			return false
		}
	}
	l.err = ctx.Err()
	return false
}

// stored sums what the loaders' writes stored.
func stored(ls []*loader) (rows, values, rejected int64) {
	for _, l := range ls {
		st := l.gen.Stats()
		rows += st.Rows - l.rejected
		values += st.Values - l.rejectedValues
		rejected += l.rejected
	}
	return rows, values, rejected
}

func (b *bench) newLoaders(u UseCase, tcfg tsbs.Config, n int) ([]*loader, error) {
	ls := make([]*loader, n)
	for i := range ls {
		g, err := u.newGenerator(tcfg, i, n)
		if err != nil {
			return nil, err
		}
		ls[i] = &loader{gen: g, batch: make([]tables.Record, b.cfg.Batch)}
	}
	return ls, nil
}

// eddyRun is one timed ingest run into e through Service.Write.
func (b *bench) eddyRun(ctx context.Context, e *env, u UseCase, tcfg tsbs.Config, n int) (IngestRun, []*loader, error) {
	ls, err := b.newLoaders(u, tcfg, n)
	if err != nil {
		return IngestRun{}, nil, err
	}
	write := serviceWrite(e.svc)
	r, err := b.timedRun(ctx, e, ls, func(int) writeFunc { return write })
	return r, ls, err
}

// timedRun has the loaders write into e, each through its own write path, until
// Duration or the end of the data set, then waits until everything acknowledged is
// queryable.
func (b *bench) timedRun(ctx context.Context, e *env, ls []*loader, writer func(i int) writeFunc) (IngestRun, error) {
	exhausted := make([]bool, len(ls))
	start := time.Now()
	deadline := start.Add(b.cfg.Duration)
	var wg sync.WaitGroup
	for i, l := range ls {
		write := writer(i)
		wg.Go(func() { exhausted[i] = l.load(ctx, write, deadline) })
	}
	wg.Wait()
	acked := time.Since(start)
	for _, l := range ls {
		if l.err != nil {
			return IngestRun{}, l.err
		}
	}
	for _, t := range e.tables {
		if err := e.svc.Sync(Database, t); err != nil {
			return IngestRun{}, fmt.Errorf("sync %s: %w", t, err)
		}
	}
	queryable := time.Since(start)
	r := IngestRun{Exhausted: !slices.Contains(exhausted, false)}
	r.Rows, r.Values, r.Rejected = stored(ls)
	for _, l := range ls {
		r.Writes += l.writes
	}
	e.rows, e.values = r.Rows, r.Values
	r.setRates(acked, queryable)
	return r, nil
}

// finish loads the rest of the loaders' splits into e, untimed.
func (e *env) finish(ctx context.Context, ls []*loader) error {
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { l.load(ctx, serviceWrite(e.svc), time.Time{}) })
	}
	wg.Wait()
	for _, l := range ls {
		if l.err != nil {
			return l.err
		}
	}
	e.rows, e.values, _ = stored(ls)
	for _, t := range e.tables {
		if err := e.svc.Sync(Database, t); err != nil {
			return fmt.Errorf("sync %s: %w", t, err)
		}
	}
	return nil
}
