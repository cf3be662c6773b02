package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// magnetic tiers
	_ "gocloud.dev/blob/s3blob"   // s3:// magnetic tiers on any S3-compatible service

	"github.com/eddy-streams/eddy/internal/apierr"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
)

// Options configure a Service.
type Options struct {
	// DataDir is the tables' directory (<data-dir>/tables): write-ahead logs and
	// manifests under data/, the magnetic tier under magnetic/ by default, the cache of a
	// remote magnetic tier under cache/.
	DataDir string
	// MagneticURL is the bucket of the magnetic tier: file:///path (default: DataDir's
	// magnetic/) or s3://bucket?... for any S3-compatible store.
	MagneticURL string
	// Fsync makes a write wait for the write-ahead log's fsync (group-committed).
	Fsync bool
	// TieringInterval is how often the background pass moves, expires and compacts;
	// zero means no background pass (tests call Tier).
	TieringInterval time.Duration
	// SchedulerTick is how often the runner looks for due scheduled-query invocations
	// (see RunDue); zero means no runner (tests call RunDue).
	SchedulerTick time.Duration
	// Now is the clock retention and schedules are measured with; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// CrashAt names a point of tiering where the process kills itself with SIGKILL, for
	// the crash tests that prove a move or compaction interrupted there loses and
	// duplicates nothing: tiering-before-manifest, tiering-after-manifest or
	// compaction-before-manifest. Empty in production.
	CrashAt string
}

// Service is the tables store: the catalog, and for each table its write path, memory
// tier and magnetic tier, with one DuckDB engine answering queries on all of them. The
// catalog's methods are the Service's; those that create, change or delete a table also
// open, update or remove its storage.
type Service struct {
	*Catalog
	engine   *eddysql.Engine
	dataDir  string
	magnetic *magneticStore
	fsync    bool
	crashAt  string
	now      func() time.Time
	log      *slog.Logger
	metrics  Metrics
	sched    *scheduler

	mu     sync.Mutex
	tables map[string]*table
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// Metrics are the Service's counters, for /metrics.
type Metrics struct {
	storedRecords, unchangedRecords, rejectedRecords  atomic.Int64
	movedRows, expiredFiles, compactions, quarantined atomic.Int64
	scheduledRuns, scheduledFailures, scheduledRows   atomic.Int64
}

// Stats is a snapshot of the counters, since the service started.
type Stats struct {
	// StoredRecords, UnchangedRecords and RejectedRecords count what writes did.
	StoredRecords, UnchangedRecords, RejectedRecords int64
	// MovedRows counts rows moved to the magnetic tier, ExpiredFiles files dropped by
	// retention, Compactions partitions rewritten, QuarantinedFiles corrupt files set aside.
	MovedRows, ExpiredFiles, Compactions, QuarantinedFiles int64
	// ScheduledRuns counts runs of scheduled queries, ScheduledFailures those that failed,
	// ScheduledRows the records they wrote.
	ScheduledRuns, ScheduledFailures, ScheduledRows int64
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	m := &s.metrics
	return Stats{
		StoredRecords: m.storedRecords.Load(), UnchangedRecords: m.unchangedRecords.Load(), RejectedRecords: m.rejectedRecords.Load(),
		MovedRows: m.movedRows.Load(), ExpiredFiles: m.expiredFiles.Load(), Compactions: m.compactions.Load(), QuarantinedFiles: m.quarantined.Load(),
		ScheduledRuns: m.scheduledRuns.Load(), ScheduledFailures: m.scheduledFailures.Load(), ScheduledRows: m.scheduledRows.Load(),
	}
}

// NewService opens every table of cat: its magnetic files, memory table and view, and
// its write-ahead log replayed.
func NewService(ctx context.Context, cat *Catalog, engine *eddysql.Engine, opts Options) (*Service, error) {
	s := &Service{
		Catalog: cat, engine: engine, dataDir: opts.DataDir, fsync: opts.Fsync, crashAt: opts.CrashAt,
		now: opts.Now, log: opts.Logger, tables: map[string]*table{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	sched, err := openScheduler(opts.DataDir)
	if err != nil {
		return nil, err
	}
	s.sched = sched
	m, err := openMagnetic(ctx, opts)
	if err != nil {
		return nil, err
	}
	s.magnetic = m
	for _, db := range cat.ListDatabases() {
		ts, err := cat.ListTables(db.Name)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			tb, err := s.openTable(ctx, t)
			if err != nil {
				close(s.done) // no tiering loop runs yet
				s.Close()
				return nil, fmt.Errorf("open table %s.%s: %w", t.Database, t.Name, err)
			}
			s.tables[key(t.Database, t.Name)] = tb
		}
	}
	if opts.TieringInterval > 0 {
		go s.loop(opts.TieringInterval)
	} else {
		close(s.done)
	}
	if opts.SchedulerTick > 0 {
		s.startScheduler(opts.SchedulerTick)
	}
	return s, nil
}

func openMagnetic(ctx context.Context, opts Options) (*magneticStore, error) {
	u := opts.MagneticURL
	if u == "" {
		dir := filepath.Join(opts.DataDir, "magnetic")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		u = "file://" + filepath.ToSlash(abs)
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("magnetic tier URL %q: %w", u, err)
	}
	m := &magneticStore{}
	if parsed.Scheme == "file" {
		if err := os.MkdirAll(parsed.Path, 0o755); err != nil {
			return nil, err
		}
		m.local, m.direct = parsed.Path, true
	} else {
		m.local = filepath.Join(opts.DataDir, "cache")
	}
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open magnetic tier %s: %w", u, err)
	}
	m.bucket = b
	return m, nil
}

// crashPoint kills the process if the crash tests chose point.
func (s *Service) crashPoint(point string) {
	if s.crashAt == point {
		s.log.Warn("crash test: killing the process", "point", point)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

func key(db, table string) string { return db + "\x00" + table }

func (s *Service) table(db, name string) (*table, error) {
	s.mu.Lock()
	t := s.tables[key(db, name)]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	// The catalog says which of the two is missing.
	if _, err := s.Catalog.DescribeTable(db, name); err != nil {
		return nil, err
	}
	return nil, apierr.New(apierr.NotFound, CodeTableNotFound, "table %q in database %q is not open", name, db)
}

// Write stores req's records in table name of database db and reports each rejected
// one; the others are stored whatever happens to those. It returns once the stored
// records are durable.
func (s *Service) Write(ctx context.Context, db, name string, req *WriteRequest) (WriteResult, error) {
	if n := len(req.Records); n > MaxRecordsPerWrite {
		return WriteResult{}, apierr.New(apierr.Invalid, CodeTooManyRecords, "%d records; a write may carry at most %d", n, MaxRecordsPerWrite)
	}
	t, err := s.table(db, name)
	if err != nil {
		return WriteResult{}, err
	}
	res, err := t.write(ctx, req)
	if err == nil {
		s.metrics.storedRecords.Add(int64(res.Memory + res.Magnetic))
		s.metrics.unchangedRecords.Add(int64(res.Unchanged))
		s.metrics.rejectedRecords.Add(int64(len(res.Rejected)))
	}
	return res, err
}

// Sync waits until everything written to the table so far is queryable.
func (s *Service) Sync(db, name string) error {
	t, err := s.table(db, name)
	if err != nil {
		return err
	}
	return t.sync()
}

// Tier runs one tiering pass over every table: moving, expiring, compacting.
func (s *Service) Tier(ctx context.Context) error {
	s.mu.Lock()
	ts := make([]*table, 0, len(s.tables))
	for _, t := range s.tables {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	now := s.now()
	var errs []error
	for _, t := range ts {
		if err := t.tier(ctx, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) loop(every time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			if err := s.Tier(context.Background()); err != nil {
				s.log.Error("tables: tiering pass failed; the next pass retries", "err", err)
			}
		}
	}
}

// CreateTable creates a table in the catalog and opens its storage.
func (s *Service) CreateTable(db, name string, opts TableOptions) (Table, error) {
	t, err := s.Catalog.CreateTable(db, name, opts)
	if err != nil {
		return t, err
	}
	// A table of this name deleted earlier may have left files if the server died
	// while removing them.
	s.removeStorage(context.Background(), db, name)
	tb, err := s.openTable(context.Background(), t)
	if err != nil {
		_ = s.Catalog.DeleteTable(db, name)
		return Table{}, fmt.Errorf("create table %s.%s: %w", db, name, err)
	}
	s.mu.Lock()
	s.tables[key(db, name)] = tb
	s.mu.Unlock()
	return t, nil
}

// UpdateTable changes a table's settings; retention changes apply from the next write
// and tiering pass.
func (s *Service) UpdateTable(db, name string, opts TableOptions) (Table, error) {
	t, err := s.Catalog.UpdateTable(db, name, opts)
	if err != nil {
		return t, err
	}
	s.mu.Lock()
	tb := s.tables[key(db, name)]
	s.mu.Unlock()
	if tb != nil {
		tb.update(t)
	}
	return t, nil
}

// DeleteTable deletes a table and its data in both tiers.
func (s *Service) DeleteTable(db, name string) error {
	if err := s.Catalog.DeleteTable(db, name); err != nil {
		return err
	}
	s.mu.Lock()
	tb := s.tables[key(db, name)]
	delete(s.tables, key(db, name))
	s.mu.Unlock()
	ctx := context.Background()
	if tb != nil {
		if err := tb.shutdown(true); err != nil {
			s.log.Warn("tables: a deleted table's memory tier not dropped", "database", db, "table", name, "err", err)
		}
	}
	s.removeStorage(ctx, db, name)
	return nil
}

// removeStorage deletes a table's log, manifest and magnetic files.
func (s *Service) removeStorage(ctx context.Context, db, name string) {
	if err := os.RemoveAll(filepath.Join(s.dataDir, "data", db, name)); err != nil {
		s.log.Warn("tables: files of a deleted table not removed", "database", db, "table", name, "err", err)
	}
	keys, err := s.magnetic.list(ctx, db+"/"+name+"/")
	if err != nil {
		s.log.Warn("tables: magnetic files of a deleted table not listed", "database", db, "table", name, "err", err)
		return
	}
	for _, k := range keys {
		if strings.HasPrefix(k, db+"/"+name+"/") {
			_ = s.magnetic.remove(ctx, k)
		}
	}
}

// Close stops the tiering pass and closes every table after publishing what it
// accepted.
func (s *Service) Close() error {
	// A run in progress is interrupted while its target table is still open.
	s.stopScheduler()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ts := s.tables
	s.tables = map[string]*table{}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	var errs []error
	for _, t := range ts {
		errs = append(errs, t.close())
	}
	if s.magnetic != nil {
		errs = append(errs, s.magnetic.bucket.Close())
	}
	return errors.Join(errs...)
}
