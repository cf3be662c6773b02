package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/atomicfile"
)

// The stable codes of the scheduled queries' errors.
const (
	CodeScheduledQueryNotFound = "ScheduledQueryNotFound"
	CodeScheduledQueryExists   = "ScheduledQueryExists"
	// CodeInvalidSchedule: the schedule is neither a Go duration nor rate(N unit), or is
	// shorter than MinScheduleInterval.
	CodeInvalidSchedule = "InvalidSchedule"
	// CodeInvalidQuery: the query is not one SELECT, or does not parse or bind.
	CodeInvalidQuery = "InvalidQuery"
	// CodeInvalidTarget: the target table does not exist, or a dimension or the measure
	// name does not fit the query's result.
	CodeInvalidTarget = "InvalidTarget"
	// CodeInvalidTimeColumn: the result has no TIMESTAMP column of the target's time
	// column name.
	CodeInvalidTimeColumn = "InvalidTimeColumn"
)

// Limits of a schedule.
const (
	MinScheduleInterval = time.Minute
	MaxScheduleInterval = 366 * 24 * time.Hour
)

// ScheduledRuntime is the placeholder a scheduled query's SQL may hold: each run replaces
// it with the invocation time as a TIMESTAMP literal in UTC.
const ScheduledRuntime = "@scheduled_runtime"

// maxRejections is how many rejection reasons a run's status keeps.
const maxRejections = 5

// ScheduledTarget is where a scheduled query's result rows are written, and how a row
// becomes a record.
type ScheduledTarget struct {
	Database, Table string
	// TimeColumn is the result's TIMESTAMP column that gives a record its time;
	// empty means "time".
	TimeColumn string
	// Dimensions are the result's VARCHAR columns that become dimensions; nil means every
	// VARCHAR column but the time column. The other columns are measures.
	Dimensions []string
	// MeasureName is the name of the multi-measure records; empty means the scheduled
	// query's name.
	MeasureName string
}

// ScheduledQueryDefinition is what CreateScheduledQuery takes.
type ScheduledQueryDefinition struct {
	// Query is one SELECT; it may hold ScheduledRuntime.
	Query string
	// Schedule is a Go duration ("1h", "5m") or Timestream's rate expression
	// ("rate(1 hour)", "rate(5 minutes)"): invocations fall on its multiples since the
	// Unix epoch.
	Schedule string
	Target   ScheduledTarget
	// Enabled defaults to true.
	Enabled *bool
}

// ScheduledQueryUpdate is what UpdateScheduledQuery changes; nil fields are left alone.
type ScheduledQueryUpdate struct {
	Enabled  *bool
	Schedule *string
	Query    *string
}

// ScheduledQuery is a scheduled query's definition and status.
type ScheduledQuery struct {
	Name     string
	Query    string
	Schedule string
	// Interval is the schedule's period.
	Interval  time.Duration
	Target    ScheduledTarget
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastScheduledInvocation is the latest invocation the runner has started; before
	// its first, the invocation at or before the creation (or the last enabling or
	// change of schedule), which the runner does not run.
	LastScheduledInvocation time.Time
	// NextInvocation is when the runner runs it next; zero if disabled.
	NextInvocation time.Time
	// LastRun is the latest run, scheduled or manual; nil before the first.
	LastRun *ScheduledRun
}

// ScheduledRun is the outcome of one invocation.
type ScheduledRun struct {
	// InvocationTime is the value of @scheduled_runtime.
	InvocationTime time.Time
	// Manual is true for a run RunScheduledQuery asked for, false for the runner's.
	Manual    bool
	StartedAt time.Time
	Duration  time.Duration
	// Version is the version of the records the run wrote.
	Version int64
	// RowsWritten counts the records the target table holds now (stored, or identical to
	// what it held); RowsSkipped the result rows without a time or without a non-null
	// measure; RowsRejected the records the write path rejected, the first few of whose
	// reasons are in Rejections.
	RowsWritten, RowsSkipped, RowsRejected int64
	Rejections                             []string
	// Error says why the run failed; empty if it succeeded. Rows written before the
	// failure stay written.
	Error string
}

// Failed reports whether the run failed.
func (r ScheduledRun) Failed() bool { return r.Error != "" }

// scheduler holds the scheduled queries of a Service and persists them in
// <DataDir>/scheduled.json.
type scheduler struct {
	path string

	mu      sync.Mutex
	queries map[string]*scheduledEntry

	stop context.CancelFunc
	done chan struct{}
}

// scheduledEntry is one scheduled query. Its fields are guarded by scheduler.mu; run
// serializes its invocations.
type scheduledEntry struct {
	def         storedScheduledQuery
	run         sync.Mutex
	lastVersion int64
}

func openScheduler(dataDir string) (*scheduler, error) {
	sc := &scheduler{path: filepath.Join(dataDir, "scheduled.json"), queries: map[string]*scheduledEntry{}}
	data, err := os.ReadFile(sc.path)
	if errors.Is(err, os.ErrNotExist) {
		return sc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scheduled queries: %w", err)
	}
	var doc scheduledDocument
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("read scheduled queries %s: %w", sc.path, err)
	}
	if doc.Version != 1 {
		return nil, fmt.Errorf("read scheduled queries %s: version %d; this eddy reads version 1", sc.path, doc.Version)
	}
	for _, q := range doc.ScheduledQueries {
		if _, err := parseSchedule(q.Schedule); err != nil {
			return nil, fmt.Errorf("read scheduled queries %s: %s: %w", sc.path, q.Name, err)
		}
		sc.queries[q.Name] = &scheduledEntry{def: q, lastVersion: q.Status.LastVersion}
	}
	return sc, nil
}

// scheduledDocument is scheduled.json (see docs/tables.md).
type scheduledDocument struct {
	Version          int                    `json:"version"`
	ScheduledQueries []storedScheduledQuery `json:"scheduledQueries"`
}

type storedScheduledQuery struct {
	Name      string          `json:"name"`
	Query     string          `json:"query"`
	Schedule  string          `json:"schedule"`
	Target    storedTarget    `json:"target"`
	Enabled   bool            `json:"enabled"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	Status    scheduledStatus `json:"status"`
}

type storedTarget struct {
	Database    string   `json:"database"`
	Table       string   `json:"table"`
	TimeColumn  string   `json:"timeColumn"`
	Dimensions  []string `json:"dimensions"`
	MeasureName string   `json:"measureName"`
}

type scheduledStatus struct {
	LastScheduledInvocation *time.Time `json:"lastScheduledInvocation,omitempty"`
	LastVersion             int64      `json:"lastVersion,omitempty"`
	LastRun                 *storedRun `json:"lastRun,omitempty"`
}

type storedRun struct {
	InvocationTime time.Time `json:"invocationTime"`
	Manual         bool      `json:"manual"`
	StartedAt      time.Time `json:"startedAt"`
	DurationNanos  int64     `json:"durationNanos"`
	Version        int64     `json:"version"`
	RowsWritten    int64     `json:"rowsWritten"`
	RowsSkipped    int64     `json:"rowsSkipped"`
	RowsRejected   int64     `json:"rowsRejected"`
	Rejections     []string  `json:"rejections,omitempty"`
	Error          string    `json:"error,omitempty"`
}

// saveLocked writes every scheduled query to the file; the caller holds mu.
func (sc *scheduler) saveLocked() error {
	doc := scheduledDocument{Version: 1, ScheduledQueries: make([]storedScheduledQuery, 0, len(sc.queries))}
	for _, e := range sc.queries {
		q := e.def
		q.Status.LastVersion = e.lastVersion
		doc.ScheduledQueries = append(doc.ScheduledQueries, q)
	}
	slices.SortFunc(doc.ScheduledQueries, func(a, b storedScheduledQuery) int { return strings.Compare(a.Name, b.Name) })
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(sc.path), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(sc.path, append(data, '\n')); err != nil {
		return fmt.Errorf("save scheduled queries: %w", err)
	}
	return nil
}

var ratePattern = regexp.MustCompile(`^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$`)

// parseSchedule returns the interval of a schedule (see ScheduledQueryDefinition).
func parseSchedule(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if m := ratePattern.FindStringSubmatch(strings.ToLower(s)); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n <= 0 || n > int64(MaxScheduleInterval/time.Minute) {
			return 0, apierr.New(apierr.Invalid, CodeInvalidSchedule, "schedule %q: the rate must be a positive number of at most %s", s, MaxScheduleInterval)
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		d = time.Duration(n) * unit
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			if strings.HasPrefix(strings.ToLower(s), "cron(") {
				return 0, apierr.New(apierr.Invalid, CodeInvalidSchedule, "schedule %q: cron expressions are not supported; give an interval such as 1h or rate(1 hour)", s)
			}
			return 0, apierr.New(apierr.Invalid, CodeInvalidSchedule, "schedule %q: give a duration such as 1h or 5m, or rate(1 hour), rate(5 minutes), rate(1 day)", s)
		}
	}
	switch {
	case d < MinScheduleInterval || d > MaxScheduleInterval:
		return 0, apierr.New(apierr.Invalid, CodeInvalidSchedule, "schedule %q: the interval must be %s to %s", s, MinScheduleInterval, MaxScheduleInterval)
	case d%time.Second != 0:
		return 0, apierr.New(apierr.Invalid, CodeInvalidSchedule, "schedule %q: the interval must be a whole number of seconds", s)
	}
	return d, nil
}

// alignDown returns the latest multiple of every since the Unix epoch at or before t.
func alignDown(t time.Time, every time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(every)
	if r < 0 {
		r += int64(every)
	}
	return time.Unix(0, ns-r).UTC()
}

// CreateScheduledQuery checks def against the catalog and the query's result columns
// (the query is described, not run) and saves it. Its first scheduled invocation is the
// first multiple of the interval after now.
func (s *Service) CreateScheduledQuery(ctx context.Context, name string, def ScheduledQueryDefinition) (ScheduledQuery, error) {
	if err := checkName("scheduled query", name); err != nil {
		return ScheduledQuery{}, err
	}
	every, err := parseSchedule(def.Schedule)
	if err != nil {
		return ScheduledQuery{}, err
	}
	t := def.Target
	stored := storedScheduledQuery{
		Name: name, Query: def.Query, Schedule: strings.TrimSpace(def.Schedule), Enabled: def.Enabled == nil || *def.Enabled,
		Target: storedTarget{Database: t.Database, Table: t.Table, TimeColumn: t.TimeColumn, Dimensions: slices.Clone(t.Dimensions), MeasureName: t.MeasureName},
	}
	if stored.Target.TimeColumn == "" {
		stored.Target.TimeColumn = "time"
	}
	if err := s.checkScheduledQuery(ctx, stored); err != nil {
		return ScheduledQuery{}, err
	}
	now := s.now()
	stored.CreatedAt, stored.UpdatedAt = now.Round(0).UTC(), now.Round(0).UTC()
	mark := alignDown(now, every)
	stored.Status.LastScheduledInvocation = &mark

	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for other := range sc.queries {
		if strings.EqualFold(other, name) {
			return ScheduledQuery{}, apierr.New(apierr.Conflict, CodeScheduledQueryExists, "scheduled query %q already exists", other)
		}
	}
	sc.queries[name] = &scheduledEntry{def: stored}
	if err := sc.saveLocked(); err != nil {
		delete(sc.queries, name)
		return ScheduledQuery{}, fmt.Errorf("create scheduled query %q: %w", name, err)
	}
	return sc.queries[name].describe(), nil
}

// ListScheduledQueries returns every scheduled query, sorted by name.
func (s *Service) ListScheduledQueries() []ScheduledQuery {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	out := make([]ScheduledQuery, 0, len(sc.queries))
	for _, e := range sc.queries {
		out = append(out, e.describe())
	}
	slices.SortFunc(out, func(a, b ScheduledQuery) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// DescribeScheduledQuery returns the scheduled query called name.
func (s *Service) DescribeScheduledQuery(name string) (ScheduledQuery, error) {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, err := sc.entry(name)
	if err != nil {
		return ScheduledQuery{}, err
	}
	return e.describe(), nil
}

// UpdateScheduledQuery enables or disables a scheduled query, or changes its schedule
// or query (checked as at creation). Enabling it, or changing its schedule, makes its
// next invocation the first multiple of the interval after now: missed invocations are
// backfilled with RunScheduledQuery.
func (s *Service) UpdateScheduledQuery(ctx context.Context, name string, u ScheduledQueryUpdate) (ScheduledQuery, error) {
	sc := s.sched
	sc.mu.Lock()
	e, err := sc.entry(name)
	var next storedScheduledQuery
	if err == nil {
		next = e.def
	}
	sc.mu.Unlock()
	if err != nil {
		return ScheduledQuery{}, err
	}
	resetMark := false
	if u.Schedule != nil {
		if _, err := parseSchedule(*u.Schedule); err != nil {
			return ScheduledQuery{}, err
		}
		resetMark = strings.TrimSpace(*u.Schedule) != next.Schedule
		next.Schedule = strings.TrimSpace(*u.Schedule)
	}
	if u.Query != nil {
		next.Query = *u.Query
		if err := s.checkScheduledQuery(ctx, next); err != nil {
			return ScheduledQuery{}, err
		}
	}
	if u.Enabled != nil {
		resetMark = resetMark || (*u.Enabled && !next.Enabled)
		next.Enabled = *u.Enabled
	}
	now := s.now()
	if resetMark {
		every, _ := parseSchedule(next.Schedule)
		mark := alignDown(now, every)
		next.Status.LastScheduledInvocation = &mark
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	cur, err := sc.entry(name)
	if err != nil {
		return ScheduledQuery{}, err
	}
	if cur != e {
		return ScheduledQuery{}, apierr.New(apierr.Conflict, CodeScheduledQueryExists, "scheduled query %q was deleted and created again during the update; retry it", name)
	}
	next.Status.LastRun = e.def.Status.LastRun // a run may have ended meanwhile
	if !resetMark {
		next.Status.LastScheduledInvocation = e.def.Status.LastScheduledInvocation
	}
	next.UpdatedAt = now.Round(0).UTC()
	prev := e.def
	e.def = next
	if err := sc.saveLocked(); err != nil {
		e.def = prev
		return ScheduledQuery{}, fmt.Errorf("update scheduled query %q: %w", name, err)
	}
	return e.describe(), nil
}

// DeleteScheduledQuery deletes a scheduled query. A run in progress finishes; the rows
// it wrote stay in the target table, as do those of earlier runs.
func (s *Service) DeleteScheduledQuery(name string) error {
	sc := s.sched
	sc.mu.Lock()
	defer sc.mu.Unlock()
	e, err := sc.entry(name)
	if err != nil {
		return err
	}
	delete(sc.queries, name)
	if err := sc.saveLocked(); err != nil {
		sc.queries[name] = e
		return fmt.Errorf("delete scheduled query %q: %w", name, err)
	}
	return nil
}

// RunScheduledQuery runs the invocation of scheduled query name at invocationTime now,
// whether or not it is enabled, and returns its outcome once its rows are queryable: the
// way to backfill invocations the runner did not run. It waits for a run of the same
// query in progress. A failed run is not an error: its Error says why.
func (s *Service) RunScheduledQuery(ctx context.Context, name string, invocationTime time.Time) (ScheduledRun, error) {
	if invocationTime.IsZero() {
		return ScheduledRun{}, apierr.New(apierr.Invalid, "InvalidParameter", "invocation time: give the value @scheduled_runtime takes")
	}
	sc := s.sched
	sc.mu.Lock()
	e, err := sc.entry(name)
	sc.mu.Unlock()
	if err != nil {
		return ScheduledRun{}, err
	}
	return s.runInvocation(ctx, e, invocationTime, true), nil
}

// RunDue runs every enabled scheduled query whose next invocation is at or before now,
// one after the other, and returns how many ran. Only the latest invocation due runs:
// one missed while eddy was down or a run was slow is skipped (RunScheduledQuery
// backfills it). A failed run is recorded in the query's status; the next invocation
// runs as scheduled. The Service's runner calls RunDue with its clock; tests call it
// with theirs.
func (s *Service) RunDue(ctx context.Context, now time.Time) int {
	type due struct {
		name string
		e    *scheduledEntry
		at   time.Time
	}
	var todo []due
	sc := s.sched
	sc.mu.Lock()
	for _, e := range sc.queries {
		if !e.def.Enabled {
			continue
		}
		every, err := parseSchedule(e.def.Schedule)
		if err != nil {
			continue // checked when saved and loaded
		}
		latest := alignDown(now, every)
		if last := e.def.Status.LastScheduledInvocation; last != nil && !latest.After(*last) {
			continue
		}
		e.def.Status.LastScheduledInvocation = &latest
		todo = append(todo, due{e.def.Name, e, latest})
	}
	if len(todo) > 0 {
		if err := sc.saveLocked(); err != nil {
			s.log.Error("tables: scheduled queries' invocation times not saved; a restart may run them again", "err", err)
		}
	}
	sc.mu.Unlock()
	slices.SortFunc(todo, func(a, b due) int { return strings.Compare(a.name, b.name) })
	n := 0
	for _, d := range todo {
		if ctx.Err() != nil {
			break
		}
		s.runInvocation(ctx, d.e, d.at, false)
		n++
	}
	return n
}

// startScheduler runs RunDue on the Service's clock every tick until Close.
func (s *Service) startScheduler(tick time.Duration) {
	sc := s.sched
	ctx, cancel := context.WithCancel(context.Background())
	sc.stop, sc.done = cancel, make(chan struct{})
	go func() {
		defer close(sc.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.RunDue(ctx, s.now())
			}
		}
	}()
}

// stopScheduler interrupts a run in progress and waits for the runner to end.
func (s *Service) stopScheduler() {
	if sc := s.sched; sc != nil && sc.stop != nil {
		sc.stop()
		<-sc.done
	}
}

func (sc *scheduler) entry(name string) (*scheduledEntry, error) {
	e, ok := sc.queries[name]
	if !ok {
		return nil, apierr.New(apierr.NotFound, CodeScheduledQueryNotFound, "scheduled query %q does not exist", name)
	}
	return e, nil
}

// describe returns the entry as the API shows it; the caller holds scheduler.mu.
func (e *scheduledEntry) describe() ScheduledQuery {
	d := e.def
	every, _ := parseSchedule(d.Schedule)
	q := ScheduledQuery{
		Name: d.Name, Query: d.Query, Schedule: d.Schedule, Interval: every, Enabled: d.Enabled,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		Target: ScheduledTarget{
			Database: d.Target.Database, Table: d.Target.Table, TimeColumn: d.Target.TimeColumn,
			Dimensions: slices.Clone(d.Target.Dimensions), MeasureName: d.Target.MeasureName,
		},
	}
	if d.Status.LastScheduledInvocation != nil {
		q.LastScheduledInvocation = *d.Status.LastScheduledInvocation
		if d.Enabled {
			q.NextInvocation = q.LastScheduledInvocation.Add(every)
		}
	}
	if r := d.Status.LastRun; r != nil {
		run := r.run()
		q.LastRun = &run
	}
	return q
}

func (r *storedRun) run() ScheduledRun {
	return ScheduledRun{
		InvocationTime: r.InvocationTime, Manual: r.Manual, StartedAt: r.StartedAt, Duration: time.Duration(r.DurationNanos),
		Version: r.Version, RowsWritten: r.RowsWritten, RowsSkipped: r.RowsSkipped, RowsRejected: r.RowsRejected,
		Rejections: slices.Clone(r.Rejections), Error: r.Error,
	}
}

func storeRun(r ScheduledRun) *storedRun {
	return &storedRun{
		InvocationTime: r.InvocationTime, Manual: r.Manual, StartedAt: r.StartedAt, DurationNanos: int64(r.Duration),
		Version: r.Version, RowsWritten: r.RowsWritten, RowsSkipped: r.RowsSkipped, RowsRejected: r.RowsRejected,
		Rejections: slices.Clone(r.Rejections), Error: r.Error,
	}
}
