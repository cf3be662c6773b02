package sql

import (
	"context"
	"crypto/rand"
	dbsql "database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// QueryOptions are one query's settings.
type QueryOptions struct {
	// Timeout bounds the query's execution. Zero takes the engine's default; more than
	// the engine's maximum is cut to it.
	Timeout time.Duration
	// PageSize is the most rows a page holds. Zero takes DefaultPageSize; more than the
	// engine's maximum is cut to it.
	PageSize int
	// ID names the query so that Cancel can interrupt it while it runs (the caller learns
	// a generated ID only with the first page). Empty generates one.
	ID string
}

// DefaultPageSize is the page size of a query that does not ask for one.
const DefaultPageSize = 1000

// QueryLimits are the engine-wide bounds on queries; zero fields take the defaults.
type QueryLimits struct {
	// DefaultTimeout is the timeout of a query that does not ask for one (60 s).
	DefaultTimeout time.Duration
	// MaxTimeout caps the timeout a query may ask for (10 min).
	MaxTimeout time.Duration
	// MaxPageSize caps the page size (10000).
	MaxPageSize int
	// MaxOpenResults bounds the results held open for paging (32): each holds its
	// materialized rows and a DuckDB connection until it is read to its end, cancelled or
	// expires.
	MaxOpenResults int
	// IdleExpiry drops an open result that nobody read a page of for this long (5 min).
	IdleExpiry time.Duration
	// Now is the clock of the idle expiry; nil is time.Now.
	Now func() time.Time
}

func (l QueryLimits) withDefaults() QueryLimits {
	if l.DefaultTimeout <= 0 {
		l.DefaultTimeout = time.Minute
	}
	if l.MaxTimeout <= 0 {
		l.MaxTimeout = 10 * time.Minute
	}
	l.DefaultTimeout = min(l.DefaultTimeout, l.MaxTimeout)
	if l.MaxPageSize <= 0 {
		l.MaxPageSize = 10000
	}
	if l.MaxOpenResults <= 0 {
		l.MaxOpenResults = 32
	}
	if l.IdleExpiry <= 0 {
		l.IdleExpiry = 5 * time.Minute
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return l
}

// Result is one page of a query's result.
type Result struct {
	QueryID string
	Columns []ResultColumn
	// Rows hold JSON-ready values: nil, bool, int64, float64, string, json.Number
	// (DECIMAL, exact), []any (LIST, ARRAY) and map[string]any (STRUCT, MAP). Values JSON
	// numbers cannot carry are strings: timestamps in RFC 3339 with nanoseconds in UTC,
	// dates as 2006-01-02, NaN and infinities as "NaN", "Infinity" and "-Infinity",
	// integers beyond int64 in decimal, UUIDs in their usual form, BLOBs in base64,
	// intervals as DuckDB prints them.
	Rows [][]any
	// NextToken reads the next page with NextPage; empty on the last page.
	NextToken string
	Stats     QueryStats
}

// ResultColumn is a column of a result, with DuckDB's name of its type (such as
// TIMESTAMP, DOUBLE, DECIMAL(18,3) or VARCHAR[]).
type ResultColumn struct {
	Name string
	Type string
}

// QueryStats describe a page.
type QueryStats struct {
	// Elapsed is the time the call that returned the page took: for the first page, the
	// query's execution.
	Elapsed time.Duration
	// Rows counts the rows of the result returned so far, this page's included.
	Rows int64
}

// Query runs one read-only statement and returns the first page of its result. The
// statement may be any SELECT (WITH, VALUES, FROM-first, PIVOT), SHOW, DESCRIBE,
// SUMMARIZE or EXPLAIN; SHOW DATABASES and SHOW TABLES [FROM db] list eddy's databases
// and tables only. The whole result is materialized before the first page returns (the
// driver has no streaming results), so the timeout bounds the execution and later pages
// only read what is ready. DuckDB's memory limit bounds the execution, not the
// materialized rows: those stay in memory until read, cancelled or expired.
//
// Errors: InvalidQuery (the statement does not parse or bind, changes state, or is
// several), QueryTimeout, QueryCancelled (by Cancel), QueryOutOfMemory (the engine's
// memory limit), TooManyOpenResults, QueryIDInUse, InvalidParameter. When ctx ends first
// the query is interrupted and ctx's error returned.
func (e *Engine) Query(ctx context.Context, q string, opts QueryOptions) (*Result, error) {
	qs := e.queries
	timeout, err := qs.timeout(opts.Timeout)
	if err != nil {
		return nil, err
	}
	pageSize, err := qs.pageSize(opts.PageSize)
	if err != nil {
		return nil, err
	}
	if opts.ID != "" && !queryIDPattern.MatchString(opts.ID) {
		return nil, apierr.New(apierr.Invalid, "InvalidParameter", "query ID %q: use 1 to 64 letters, digits, '-' and '_'", opts.ID)
	}
	stmt, args, err := e.readStatement(ctx, q)
	if err != nil {
		return nil, err
	}
	r, err := qs.start(opts.ID)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	timer := time.AfterFunc(timeout.d, func() { r.stop(stoppedByTimeout) })
	stopWatch := context.AfterFunc(ctx, func() { r.stop(stoppedByCaller) })
	rows, err := e.db.QueryContext(r.ctx, stmt, args...)
	var c *cursor
	var page [][]any
	var done bool
	if err == nil {
		c, err = newCursor(r, rows, pageSize)
		if err == nil {
			page, done, err = c.read()
		}
	}
	timer.Stop()
	stopWatch()
	if err == nil && !done && r.ctx.Err() != nil {
		// Stopped between the first page and here: the rest of the result is gone.
		err = r.ctx.Err()
	}
	if err != nil {
		qs.finish(r, nil)
		if rows != nil {
			rows.Close()
		}
		r.cancel()
		return nil, r.failure(ctx, err, timeout)
	}
	res := &Result{QueryID: r.id, Columns: c.columns, Rows: page, Stats: QueryStats{Elapsed: time.Since(start), Rows: c.rowsSoFar}}
	if done {
		qs.finish(r, nil)
		c.close()
		return res, nil
	}
	if err := qs.finish(r, c); err != nil {
		c.close()
		return nil, err
	}
	c.page = 1
	res.NextToken = c.token()
	return res, nil
}

// NextPage returns the page a token from the previous page names. Asking again with the
// same token (a retry after a lost answer) returns the same page.
//
// Errors: NextTokenExpired (the result was read to its end, cancelled, or idle for
// longer than the expiry), InvalidNextToken, QueryCancelled.
func (e *Engine) NextPage(ctx context.Context, token string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	qs := e.queries
	id, page, err := parseToken(token)
	if err != nil {
		return nil, err
	}
	c, err := qs.acquire(id)
	if err != nil {
		return nil, err
	}
	defer qs.release(c)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case page == c.page-1 && c.last != nil:
		res := *c.last
		return &res, nil
	case page != c.page:
		return nil, apierr.New(apierr.Invalid, "InvalidNextToken", "the token is for page %d of query %s, but the next page is %d: pass the nextToken of the latest page", page, id, c.page)
	}
	start := time.Now()
	rows, done, err := c.read()
	if err != nil {
		qs.drop(c)
		return nil, c.run.failure(ctx, err, limit{})
	}
	res := &Result{QueryID: id, Columns: c.columns, Rows: rows, Stats: QueryStats{Elapsed: time.Since(start), Rows: c.rowsSoFar}}
	if done {
		qs.drop(c)
		return res, nil
	}
	c.page++
	res.NextToken = c.token()
	c.last = res
	out := *res
	return &out, nil
}

// Cancel interrupts a running query, which then fails with QueryCancelled, or drops
// an open result and frees its memory. An unknown ID is QueryNotFound.
func (e *Engine) Cancel(queryID string) error {
	qs := e.queries
	qs.mu.Lock()
	r, running := qs.running[queryID]
	c, open := qs.open[queryID]
	qs.mu.Unlock()
	switch {
	case running:
		r.stop(stoppedByCancel)
	case open:
		c.run.stop(stoppedByCancel)
		qs.drop(c)
	default:
		return apierr.New(apierr.NotFound, "QueryNotFound", "no query %s is running or has a result open; it may have finished or expired", queryID)
	}
	return nil
}

var queryIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// queries tracks the running queries and the open results of an engine.
type queries struct {
	limits QueryLimits

	mu      sync.Mutex
	running map[string]*run
	open    map[string]*cursor

	stopSweep chan struct{}
	swept     sync.WaitGroup
}

func newQueries(limits QueryLimits) *queries {
	qs := &queries{
		limits:    limits.withDefaults(),
		running:   map[string]*run{},
		open:      map[string]*cursor{},
		stopSweep: make(chan struct{}),
	}
	// Expired results are also dropped on every call; the sweep frees their memory when
	// no calls come.
	qs.swept.Go(func() {
		t := time.NewTicker(min(qs.limits.IdleExpiry/4, time.Minute))
		defer t.Stop()
		for {
			select {
			case <-qs.stopSweep:
				return
			case <-t.C:
				qs.sweep()
			}
		}
	})
	return qs
}

// close drops every open result.
func (qs *queries) close() {
	close(qs.stopSweep)
	qs.swept.Wait()
	qs.mu.Lock()
	open := qs.open
	qs.open = map[string]*cursor{}
	qs.mu.Unlock()
	for _, c := range open {
		c.close()
	}
}

// limit is a query's timeout, what set it and what to do about it, for the error message.
type limit struct {
	d      time.Duration
	source string
	hint   string
}

func (qs *queries) timeout(d time.Duration) (limit, error) {
	const narrow = "Narrow the query (a shorter time range, fewer columns, an aggregate)"
	switch {
	case d < 0:
		return limit{}, apierr.New(apierr.Invalid, "InvalidParameter", "timeout %s: must not be negative", d)
	case d == 0:
		return limit{qs.limits.DefaultTimeout, "the default timeout", narrow + " or give it a longer timeout, up to " + qs.limits.MaxTimeout.String()}, nil
	case d > qs.limits.MaxTimeout:
		return limit{qs.limits.MaxTimeout, "the server's maximum timeout (the query asked for " + d.String() + ")", narrow}, nil
	}
	return limit{d, "its timeout", narrow + " or give it a longer timeout, up to " + qs.limits.MaxTimeout.String()}, nil
}

func (qs *queries) pageSize(n int) (int, error) {
	switch {
	case n < 0:
		return 0, apierr.New(apierr.Invalid, "InvalidParameter", "page size %d: must not be negative", n)
	case n == 0:
		return min(DefaultPageSize, qs.limits.MaxPageSize), nil
	}
	return min(n, qs.limits.MaxPageSize), nil
}

// start registers a running query.
func (qs *queries) start(id string) (*run, error) {
	qs.sweep()
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if len(qs.open) >= qs.limits.MaxOpenResults {
		return nil, errTooManyOpen(qs.limits)
	}
	if id == "" {
		id = newQueryID()
	} else if qs.running[id] != nil || qs.open[id] != nil {
		return nil, apierr.New(apierr.Conflict, "QueryIDInUse", "a query with ID %s is running or has a result open; choose another ID", id)
	}
	r := &run{id: id}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	qs.running[id] = r
	return r, nil
}

// finish ends a running query and, when c is not nil, opens its result for paging in
// the same step, so that Cancel always finds it.
func (qs *queries) finish(r *run, c *cursor) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	delete(qs.running, r.id)
	if c == nil {
		return nil
	}
	if len(qs.open) >= qs.limits.MaxOpenResults {
		return errTooManyOpen(qs.limits)
	}
	c.idleSince = qs.limits.Now()
	qs.open[r.id] = c
	return nil
}

func errTooManyOpen(l QueryLimits) error {
	return apierr.New(apierr.Unavailable, "TooManyOpenResults",
		"%d query results are open for paging, the server's limit: retry once some are read to their end, cancelled, or idle for %s", l.MaxOpenResults, l.IdleExpiry)
}

// acquire returns the open result id for a read, which the sweep then leaves alone.
func (qs *queries) acquire(id string) (*cursor, error) {
	qs.sweep()
	qs.mu.Lock()
	defer qs.mu.Unlock()
	c, ok := qs.open[id]
	if !ok {
		return nil, apierr.New(apierr.Gone, "NextTokenExpired",
			"the result of query %s is no longer open: it was read to its end, cancelled, or idle for more than %s; run the query again", id, qs.limits.IdleExpiry)
	}
	c.readers++
	return c, nil
}

func (qs *queries) release(c *cursor) {
	qs.mu.Lock()
	c.readers--
	c.idleSince = qs.limits.Now()
	qs.mu.Unlock()
}

// drop closes an open result.
func (qs *queries) drop(c *cursor) {
	qs.mu.Lock()
	if qs.open[c.run.id] == c {
		delete(qs.open, c.run.id)
	}
	qs.mu.Unlock()
	c.close()
}

// sweep drops the results idle for longer than the expiry.
func (qs *queries) sweep() {
	now := qs.limits.Now()
	var expired []*cursor
	qs.mu.Lock()
	for id, c := range qs.open {
		if c.readers == 0 && now.Sub(c.idleSince) > qs.limits.IdleExpiry {
			delete(qs.open, id)
			expired = append(expired, c)
		}
	}
	qs.mu.Unlock()
	for _, c := range expired {
		c.close()
	}
}

func newQueryID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// A token is the query ID and the number of the page it reads, so that a retried read
// can be told from a stale one.
func (c *cursor) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.run.id + "." + strconv.Itoa(c.page)))
}

func parseToken(token string) (string, int, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	id, page, ok := strings.Cut(string(b), ".")
	n, perr := strconv.Atoi(page)
	if err != nil || !ok || perr != nil || n < 1 || !queryIDPattern.MatchString(id) {
		return "", 0, apierr.New(apierr.Invalid, "InvalidNextToken", "%q is not a next token; pass the nextToken of a page unchanged", token)
	}
	return id, n, nil
}

// stopReason says why a query's context was cancelled.
type stopReason int32

const (
	stoppedByTimeout stopReason = iota + 1
	stoppedByCancel
	stoppedByCaller
)

// run is a query from its start until its result is read or dropped. Its context,
// not the caller's, carries the DuckDB call and the open result, which outlive the call
// that started them.
type run struct {
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	reason atomic.Int32
}

// stop interrupts the query; the first reason sticks.
func (r *run) stop(why stopReason) {
	if r.reason.CompareAndSwap(0, int32(why)) {
		r.cancel()
	}
}

// failure turns the error of a query into the error its caller sees.
func (r *run) failure(ctx context.Context, err error, timeout limit) error {
	switch stopReason(r.reason.Load()) {
	case stoppedByTimeout:
		return apierr.New(apierr.Timeout, "QueryTimeout", "query %s ran longer than %s, %s, and was stopped; its memory is freed. %s", r.id, timeout.d, timeout.source, timeout.hint)
	case stoppedByCancel:
		return apierr.New(apierr.Conflict, "QueryCancelled", "query %s was cancelled", r.id)
	case stoppedByCaller:
		return fmt.Errorf("query %s: %w", r.id, context.Cause(ctx))
	}
	var de *duckdb.Error
	if errors.As(err, &de) {
		switch de.Type {
		case duckdb.ErrorTypeOutOfMemory:
			return apierr.New(apierr.TooLarge, "QueryOutOfMemory", "query %s needs more memory than the engine's limit: %s", r.id, de.Msg)
		case duckdb.ErrorTypeInternal, duckdb.ErrorTypeFatal, duckdb.ErrorTypeConnection:
		default:
			return errInvalidQuery("%s", de.Msg)
		}
	}
	return fmt.Errorf("query %s: %w", r.id, err)
}

func errInvalidQuery(format string, args ...any) error {
	return apierr.New(apierr.Invalid, "InvalidQuery", format, args...)
}

// cursor is the open result of a query, read a page at a time.
type cursor struct {
	run      *run
	rows     *dbsql.Rows
	columns  []ResultColumn
	convert  []func(any) any
	pageSize int

	// Guarded by queries.mu.
	readers   int
	idleSince time.Time

	// mu serializes the reads of the result.
	mu sync.Mutex
	// page is the number of the page the latest token names; the first page, which
	// Query returns, is 0.
	page int
	// last is the page before it, for a retried read.
	last *Result
	// ahead is the row read to learn whether a page is the last.
	ahead     []any
	rowsSoFar int64
}

func newCursor(r *run, rows *dbsql.Rows, pageSize int) (*cursor, error) {
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	c := &cursor{run: r, rows: rows, pageSize: pageSize, columns: make([]ResultColumn, len(types)), convert: make([]func(any) any, len(types))}
	for i, t := range types {
		c.columns[i] = ResultColumn{Name: t.Name(), Type: t.DatabaseTypeName()}
		c.convert[i] = converter(t.DatabaseTypeName())
	}
	return c, nil
}

// read returns the next page and whether it is the last.
func (c *cursor) read() ([][]any, bool, error) {
	page := make([][]any, 0, min(c.pageSize, 64))
	if c.ahead != nil {
		page = append(page, c.ahead)
		c.ahead = nil
	}
	for {
		if !c.rows.Next() {
			if err := c.rows.Err(); err != nil {
				return nil, false, err
			}
			c.rowsSoFar += int64(len(page))
			return page, true, nil
		}
		row, err := c.scan()
		if err != nil {
			return nil, false, err
		}
		if len(page) == c.pageSize {
			c.ahead = row
			c.rowsSoFar += int64(len(page))
			return page, false, nil
		}
		page = append(page, row)
	}
}

func (c *cursor) scan() ([]any, error) {
	vals := make([]any, len(c.columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := c.rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, v := range vals {
		vals[i] = c.convert[i](v)
	}
	return vals, nil
}

// close frees the result's memory and its connection.
func (c *cursor) close() {
	c.run.cancel()
	_ = c.rows.Close()
}
