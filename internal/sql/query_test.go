package sql

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// openFleet opens an engine with two eddy databases laid out as the tables service does
// (a schema per database, a view per table) and an internal schema that must stay
// hidden.
func openFleet(t *testing.T, limits QueryLimits) *Engine {
	t.Helper()
	e, err := Open(Options{Threads: 2, Queries: limits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, s := range []string{
		`CREATE SCHEMA _eddy_mem`,
		`CREATE TABLE _eddy_mem."fleet.readings" (time TIMESTAMP, host VARCHAR, measure_name VARCHAR, cpu DOUBLE, _seq BIGINT)`,
		`INSERT INTO _eddy_mem."fleet.readings" VALUES ('2026-01-02 03:04:05.123456', 'h1', 'm', 0.5, 1), ('2026-01-02 03:04:06', 'h2', 'm', 'nan', 2)`,
		`CREATE SCHEMA fleet`,
		`CREATE VIEW fleet.readings AS SELECT time, host, measure_name, cpu FROM _eddy_mem."fleet.readings"`,
		`CREATE VIEW fleet.alerts AS SELECT TIMESTAMP '2026-01-01' AS time, 'h1' AS host, 'alert' AS measure_name`,
		`CREATE SCHEMA ops`,
		`CREATE VIEW ops.deploys AS SELECT TIMESTAMP '2026-01-01' AS time, 'svc' AS service, 'deploy' AS measure_name`,
	} {
		if _, err := e.DB().Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return e
}

func query(t *testing.T, e *Engine, q string) *Result {
	t.Helper()
	res, err := e.Query(context.Background(), q, QueryOptions{})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return res
}

// asJSON renders rows as the HTTP API does.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantCode(t *testing.T, err error, code string) *apierr.Error {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok || e.Code != code {
		t.Fatalf("got error %v, want code %s", err, code)
	}
	return e
}

func TestShowListsEddyDatabasesAndTablesOnly(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	for _, tc := range []struct{ q, cols, rows string }{
		{"SHOW DATABASES", `[{"Name":"database","Type":"VARCHAR"}]`, `[["fleet"],["ops"]]`},
		{"show databases;", `[{"Name":"database","Type":"VARCHAR"}]`, `[["fleet"],["ops"]]`},
		{"SHOW DATABASES; -- mine /* and */", `[{"Name":"database","Type":"VARCHAR"}]`, `[["fleet"],["ops"]]`},
		{"SHOW TABLES", `[{"Name":"database","Type":"VARCHAR"},{"Name":"table","Type":"VARCHAR"}]`, `[["fleet","alerts"],["fleet","readings"],["ops","deploys"]]`},
		{"-- all of them\nSHOW ALL TABLES", `[{"Name":"database","Type":"VARCHAR"},{"Name":"table","Type":"VARCHAR"}]`, `[["fleet","alerts"],["fleet","readings"],["ops","deploys"]]`},
		{"DESCRIBE", `[{"Name":"database","Type":"VARCHAR"},{"Name":"table","Type":"VARCHAR"}]`, `[["fleet","alerts"],["fleet","readings"],["ops","deploys"]]`},
		{"SHOW TABLES FROM fleet", `[{"Name":"table","Type":"VARCHAR"}]`, `[["alerts"],["readings"]]`},
		{"show tables in \"ops\" /* the deploys */ ;\n", `[{"Name":"table","Type":"VARCHAR"}]`, `[["deploys"]]`},
	} {
		res := query(t, e, tc.q)
		if got := asJSON(t, res.Columns); got != tc.cols {
			t.Errorf("%q: columns %s, want %s", tc.q, got, tc.cols)
		}
		if got := asJSON(t, res.Rows); got != tc.rows {
			t.Errorf("%q: rows %s, want %s", tc.q, got, tc.rows)
		}
	}
	for _, db := range []string{"nope", "_eddy_mem", "main", "information_schema"} {
		_, err := e.Query(context.Background(), "SHOW TABLES FROM "+QuoteIdent(db), QueryOptions{})
		if e := wantCode(t, err, "InvalidQuery"); !strings.Contains(e.Message, "no database") {
			t.Errorf("SHOW TABLES FROM %s: %v", db, err)
		}
	}
}

func TestDescribeAndSelectATable(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	res := query(t, e, "DESCRIBE fleet.readings")
	var cols []string
	for _, r := range res.Rows {
		cols = append(cols, r[0].(string)+" "+r[1].(string))
	}
	if want := []string{"time TIMESTAMP", "host VARCHAR", "measure_name VARCHAR", "cpu DOUBLE"}; !reflect.DeepEqual(cols, want) {
		t.Errorf("DESCRIBE fleet.readings: %v, want %v", cols, want)
	}
	res = query(t, e, `SELECT time, host, cpu FROM "fleet"."readings" ORDER BY time`)
	if got, want := asJSON(t, res.Rows), `[["2026-01-02T03:04:05.123456Z","h1",0.5],["2026-01-02T03:04:06Z","h2","NaN"]]`; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	if res.NextToken != "" || res.Stats.Rows != 2 || res.QueryID == "" {
		t.Errorf("a one-page result: token %q, stats %+v, id %q", res.NextToken, res.Stats, res.QueryID)
	}
}

func TestQueryValuesAreJSONReady(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	for _, tc := range []struct{ expr, typ, want string }{
		{"42::TINYINT", "TINYINT", `42`},
		{"-7::BIGINT", "BIGINT", `-7`},
		{"18446744073709551615::UBIGINT", "UBIGINT", `"18446744073709551615"`},
		{"12::UBIGINT", "UBIGINT", `12`},
		{"170141183460469231731687303715884105727::HUGEINT", "HUGEINT", `"170141183460469231731687303715884105727"`},
		{"-5::HUGEINT", "HUGEINT", `-5`},
		{"1.1::FLOAT", "FLOAT", `1.1`},
		{"0.25::DOUBLE", "DOUBLE", `0.25`},
		{"'nan'::DOUBLE", "DOUBLE", `"NaN"`},
		{"'inf'::DOUBLE", "DOUBLE", `"Infinity"`},
		{"'-inf'::FLOAT", "FLOAT", `"-Infinity"`},
		{"12345678901234567890123.45::DECIMAL(38,2)", "DECIMAL(38,2)", `12345678901234567890123.45`},
		{"-1.50::DECIMAL(10,2)", "DECIMAL(10,2)", `-1.5`},
		{"true", "BOOLEAN", `true`},
		{"NULL::VARCHAR", "VARCHAR", `null`},
		{"TIMESTAMP '2026-03-04 05:06:07.891'", "TIMESTAMP", `"2026-03-04T05:06:07.891Z"`},
		{"TIMESTAMP_NS '2026-03-04 05:06:07.123456789'", "TIMESTAMP_NS", `"2026-03-04T05:06:07.123456789Z"`},
		{"TIMESTAMPTZ '2026-03-04 05:06:07+02'", "TIMESTAMPTZ", `"2026-03-04T03:06:07Z"`},
		{"DATE '2026-03-04'", "DATE", `"2026-03-04"`},
		{"TIME '05:06:07.5'", "TIME", `"05:06:07.5"`},
		{"INTERVAL '1 year 2 months 3 days 04:05:06.5'", "INTERVAL", `"1 year 2 months 3 days 04:05:06.5"`},
		{"INTERVAL 90 MINUTE", "INTERVAL", `"01:30:00"`},
		{"'2e1d6a92-2f4b-4e3a-9d0c-5b9f2c8e7a10'::UUID", "UUID", `"2e1d6a92-2f4b-4e3a-9d0c-5b9f2c8e7a10"`},
		{"'\\x00\\xFF'::BLOB", "BLOB", `"AP8="`},
		{"[1, 2, NULL]", "INTEGER[]", `[1,2,null]`},
		{"[TIMESTAMP '2026-01-01']", "TIMESTAMP[]", `["2026-01-01T00:00:00Z"]`},
		{"{'a': 1, 'b': ['x']}", `STRUCT(a INTEGER, b VARCHAR[])`, `{"a":1,"b":["x"]}`},
		{"MAP {'k': 1.5, 'l': 'nan'::DOUBLE}", "MAP(VARCHAR, DOUBLE)", `{"k":1.5,"l":"NaN"}`},
		{"'a'::ENUM('a', 'b')", "ENUM('a', 'b')", `"a"`},
	} {
		res := query(t, e, "SELECT "+tc.expr+" AS v")
		if got := res.Columns[0].Type; !strings.EqualFold(got, tc.typ) && !strings.HasPrefix(got, strings.SplitN(tc.typ, "(", 2)[0]) {
			t.Errorf("%s: type %s, want %s", tc.expr, got, tc.typ)
		}
		if got := asJSON(t, res.Rows[0][0]); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.expr, got, tc.want)
		}
	}
}

func TestQueryRefusesStatementsThatChangeState(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	for _, q := range []string{
		"CREATE TABLE fleet.x (a INT)",
		"CREATE OR REPLACE VIEW fleet.readings AS SELECT 1",
		"DROP VIEW fleet.readings",
		"INSERT INTO _eddy_mem.\"fleet.readings\" VALUES (NULL, NULL, NULL, NULL, NULL)",
		"UPDATE _eddy_mem.\"fleet.readings\" SET cpu = 0",
		"DELETE FROM _eddy_mem.\"fleet.readings\"",
		"ATTACH ':memory:' AS other",
		"COPY (SELECT 1) TO 'x.csv'",
		"INSTALL httpfs",
		"LOAD httpfs",
		"SET threads = 1",
		"RESET threads",
		"PRAGMA enable_profiling",
		"CALL checkpoint()",
		"USE fleet",
		"CHECKPOINT",
		"BEGIN TRANSACTION",
		"EXPLAIN CREATE TABLE fleet.x (a INT)",
		"EXPLAIN ANALYZE DELETE FROM _eddy_mem.\"fleet.readings\"",
		"SELECT 1; DROP VIEW fleet.readings",
		"SELECT 1; SELECT 2",
		"DROP VIEW fleet.alerts; SELECT 1",
		"WITH x AS (SELECT 1) DELETE FROM _eddy_mem.\"fleet.readings\"",
		"/* hidden */ DROP VIEW fleet.readings",
		"",
		"  -- only a comment",
		"selec 1",
		"SELECT * FROM nowhere.nothing",
		"SELECT nope FROM fleet.readings",
	} {
		_, err := e.Query(context.Background(), q, QueryOptions{})
		wantCode(t, err, "InvalidQuery")
	}
	// Nothing changed: the views and the rows are as they were.
	if res := query(t, e, "SELECT count(*) FROM fleet.readings"); asJSON(t, res.Rows) != `[[2]]` {
		t.Errorf("the rows changed: %v", res.Rows)
	}
	if res := query(t, e, "SHOW TABLES"); len(res.Rows) != 3 {
		t.Errorf("the tables changed: %v", res.Rows)
	}

	_, err := e.Query(context.Background(), "SELECT * FROM fleet.nope", QueryOptions{})
	if e := wantCode(t, err, "InvalidQuery"); !strings.Contains(e.Message, "nope") || !strings.Contains(e.Message, "does not exist") {
		t.Errorf("an unknown table: %q", e.Message)
	}
	_, err = e.Query(context.Background(), "SELEC 1", QueryOptions{})
	if e := wantCode(t, err, "InvalidQuery"); !strings.Contains(e.Message, "syntax error") {
		t.Errorf("a syntax error: %q", e.Message)
	}
	_, err = e.Query(context.Background(), "SELECT 1; SELECT 2", QueryOptions{})
	if e := wantCode(t, err, "InvalidQuery"); !strings.Contains(e.Message, "one statement") {
		t.Errorf("two statements: %q", e.Message)
	}
	_, err = e.Query(context.Background(), "DROP VIEW fleet.readings", QueryOptions{})
	if e := wantCode(t, err, "InvalidQuery"); !strings.Contains(e.Message, "DROP statements are not allowed") {
		t.Errorf("a DROP: %q", e.Message)
	}
}

func TestQueryAllowsReadStatements(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	for _, q := range []string{
		"SELECT 1",
		"select 1;",
		"  /* why */ -- and more\n  SELECT 1",
		"(SELECT 1) UNION ALL (SELECT 2)",
		"WITH h AS (SELECT DISTINCT host FROM fleet.readings) SELECT * FROM h",
		"VALUES (1, 'a'), (2, 'b')",
		"FROM fleet.readings",
		"FROM fleet.readings SELECT host WHERE cpu > 0",
		"TABLE fleet.alerts",
		"SHOW fleet.readings",
		"DESCRIBE SELECT 1 AS a",
		"SUMMARIZE fleet.alerts",
		"EXPLAIN SELECT * FROM fleet.readings",
		"EXPLAIN ANALYZE SELECT count(*) FROM fleet.readings",
		"PIVOT fleet.readings ON host IN ('h1', 'h2') USING max(cpu) GROUP BY measure_name",
	} {
		if _, err := e.Query(context.Background(), q, QueryOptions{}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func TestQueryPages(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	ctx := context.Background()
	res, err := e.Query(ctx, "SELECT i FROM range(2500) t(i) ORDER BY i", QueryOptions{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	var sizes []int
	var stats []int64
	for {
		sizes = append(sizes, len(res.Rows))
		stats = append(stats, res.Stats.Rows)
		for _, r := range res.Rows {
			got = append(got, r[0].(int64))
		}
		if res.NextToken == "" {
			break
		}
		token := res.NextToken
		if res, err = e.NextPage(ctx, token); err != nil {
			t.Fatal(err)
		}
		if len(res.Columns) != 1 || res.Columns[0].Name != "i" {
			t.Fatalf("page of %s: columns %v", res.QueryID, res.Columns)
		}
		if res.NextToken == "" {
			continue
		}
		// A retry of the same token (its answer lost on the way) returns the same page.
		again, err := e.NextPage(ctx, token)
		if err != nil {
			t.Fatalf("a retried token: %v", err)
		}
		if !reflect.DeepEqual(again.Rows, res.Rows) || again.NextToken != res.NextToken || again.QueryID != res.QueryID {
			t.Fatalf("a retried token returned another page")
		}
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 500}) || !reflect.DeepEqual(stats, []int64{1000, 2000, 2500}) {
		t.Errorf("pages of %v rows, stats %v", sizes, stats)
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("row %d is %d", i, v)
		}
	}
	// Read to its end, the result is closed.
	wantCode(t, e.Cancel(res.QueryID), "QueryNotFound")

	// A result of exactly one page needs no token.
	res, err = e.Query(ctx, "SELECT * FROM range(10)", QueryOptions{PageSize: 10})
	if err != nil || res.NextToken != "" || len(res.Rows) != 10 {
		t.Errorf("10 rows in pages of 10: %v, token %q", err, res.NextToken)
	}
}

func TestNextTokenErrors(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	ctx := context.Background()
	first, err := e.Query(ctx, "SELECT * FROM range(30)", QueryOptions{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.NextPage(ctx, first.NextToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.NextPage(ctx, second.NextToken); err != nil {
		t.Fatal(err)
	}
	// The token of a page already passed.
	wantCode(t, func() error { _, err := e.NextPage(ctx, first.NextToken); return err }(), "NextTokenExpired")
	for _, token := range []string{"", "garbage", "Zm9vLmJhcg"} {
		_, err := e.NextPage(ctx, token)
		wantCode(t, err, "InvalidNextToken")
	}
}

func TestQueryPageSizeAndTimeoutBounds(t *testing.T) {
	e := openFleet(t, QueryLimits{MaxPageSize: 50})
	res, err := e.Query(context.Background(), "SELECT * FROM range(200)", QueryOptions{PageSize: 1000})
	if err != nil || len(res.Rows) != 50 {
		t.Errorf("a page size over the maximum: %v, %d rows", err, len(res.Rows))
	}
	_, err = e.Query(context.Background(), "SELECT 1", QueryOptions{PageSize: -1})
	wantCode(t, err, "InvalidParameter")
	_, err = e.Query(context.Background(), "SELECT 1", QueryOptions{Timeout: -time.Second})
	wantCode(t, err, "InvalidParameter")
	_, err = e.Query(context.Background(), "SELECT 1", QueryOptions{ID: "no spaces"})
	wantCode(t, err, "InvalidParameter")
}

// fakeClock is the idle-expiry clock of a test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestOpenResultsExpireWhenIdle(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := openFleet(t, QueryLimits{IdleExpiry: time.Minute, Now: clock.Now})
	ctx := context.Background()
	res, err := e.Query(ctx, "SELECT * FROM range(100)", QueryOptions{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Each read restarts the idle time.
	for range 3 {
		clock.Advance(50 * time.Second)
		if res, err = e.NextPage(ctx, res.NextToken); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(61 * time.Second)
	_, err = e.NextPage(ctx, res.NextToken)
	wantCode(t, err, "NextTokenExpired")
}

func TestOpenResultsAreBounded(t *testing.T) {
	e := openFleet(t, QueryLimits{MaxOpenResults: 2})
	ctx := context.Background()
	var ids []string
	for range 2 {
		res, err := e.Query(ctx, "SELECT * FROM range(100)", QueryOptions{PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.QueryID)
	}
	_, err := e.Query(ctx, "SELECT * FROM range(100)", QueryOptions{PageSize: 10})
	wantCode(t, err, "TooManyOpenResults")
	// Cancelling an open result makes room, and its token stops working.
	if err := e.Cancel(ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Query(ctx, "SELECT * FROM range(100)", QueryOptions{PageSize: 10}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, e.Cancel("unknown"), "QueryNotFound")
}

// memoryBytes is what DuckDB's buffer manager holds.
func memoryBytes(t *testing.T, e *Engine) int64 {
	t.Helper()
	var n int64
	if err := e.DB().QueryRow("SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// heavyQuery needs seconds and hundreds of MB: a hash table of 50 million groups.
const heavyQuery = "SELECT count(*) FROM (SELECT i, count(*) FROM range(50000000) t(i) GROUP BY i)"

// runHeavy starts heavyQuery, waits until it holds memory, and returns its error.
func runHeavy(t *testing.T, e *Engine, opts QueryOptions) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := e.Query(context.Background(), heavyQuery, opts)
		done <- err
	}()
	for memoryBytes(t, e) < 32<<20 {
		select {
		case err := <-done:
			t.Fatalf("the heavy query ended before it held 32 MiB: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return done
}

func TestTimedOutQueryFreesItsMemory(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	err := <-runHeavy(t, e, QueryOptions{Timeout: 1500 * time.Millisecond})
	if e := wantCode(t, err, "QueryTimeout"); !strings.Contains(e.Message, "ran longer than 1.5s, its timeout, and was stopped") || e.Kind != apierr.Timeout {
		t.Errorf("message %q", e.Message)
	}
	if n := memoryBytes(t, e); n > 4<<20 {
		t.Errorf("DuckDB holds %d bytes after the timeout", n)
	}
}

func TestTimeoutIsCappedByTheEngine(t *testing.T) {
	e := openFleet(t, QueryLimits{MaxTimeout: 1500 * time.Millisecond})
	err := <-runHeavy(t, e, QueryOptions{Timeout: time.Hour})
	if e := wantCode(t, err, "QueryTimeout"); !strings.Contains(e.Message, "ran longer than 1.5s, the server's maximum timeout (the query asked for 1h0m0s)") {
		t.Errorf("message %q", e.Message)
	}
}

func TestCancelInterruptsARunningQuery(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	done := runHeavy(t, e, QueryOptions{ID: "heavy-1"})
	_, err := e.Query(context.Background(), "SELECT 1", QueryOptions{ID: "heavy-1"})
	wantCode(t, err, "QueryIDInUse")
	if err := e.Cancel("heavy-1"); err != nil {
		t.Fatal(err)
	}
	if e := wantCode(t, <-done, "QueryCancelled"); !strings.Contains(e.Message, "heavy-1") {
		t.Errorf("message %q", e.Message)
	}
	if n := memoryBytes(t, e); n > 4<<20 {
		t.Errorf("DuckDB holds %d bytes after the cancel", n)
	}
}

func TestCallerContextInterruptsAQuery(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Query(ctx, heavyQuery, QueryOptions{})
		done <- err
	}()
	for memoryBytes(t, e) < 32<<20 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestCancelDropsAnOpenResult(t *testing.T) {
	e := openFleet(t, QueryLimits{})
	res, err := e.Query(context.Background(), "SELECT * FROM range(100)", QueryOptions{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Cancel(res.QueryID); err != nil {
		t.Fatal(err)
	}
	_, err = e.NextPage(context.Background(), res.NextToken)
	wantCode(t, err, "NextTokenExpired")
	wantCode(t, e.Cancel(res.QueryID), "QueryNotFound")
}
