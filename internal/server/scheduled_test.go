package server_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// testClock is the tables service's clock in the scheduled-query tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// startTablesService starts a server over a real tables service and SQL engine, with
// the fleet database holding a cpu table with three hours of rows per host and an empty
// cpu_hourly table.
func startTablesService(t *testing.T, clock *testClock) (*caller, *tables.Service) {
	t.Helper()
	dir := t.TempDir()
	eng, err := sql.Open(sql.Options{AllowedDirs: []string{dir}, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := tables.Open(tables.NewFileStore(dir), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tables.NewService(context.Background(), cat, eng, tables.Options{DataDir: filepath.Join(dir, "tables"), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	hs, token := servertest.StartAPI(t, dir, server.Options{Tables: svc, TableWriter: svc, Query: eng})
	c := &caller{t: t, url: hs.URL, token: token}
	c.json("POST", "/v1/databases", `{"name":"fleet"}`, 201, nil)
	c.json("POST", "/v1/databases/fleet/tables", `{"name":"cpu"}`, 201, nil)
	c.json("POST", "/v1/databases/fleet/tables", `{"name":"cpu_hourly"}`, 201, nil)
	var recs []tables.Record
	now := clock.Now()
	for at := now.Add(-3 * time.Hour); at.Before(now); at = at.Add(time.Minute) {
		for i, host := range []string{"a", "b"} {
			recs = append(recs, tables.Record{
				Time: at.UnixMilli(), Dimensions: []tables.Dimension{{Name: "host", Value: host}}, MeasureName: "cpu",
				Measures: []tables.Measure{{Name: "usage_user", Value: tables.DoubleValue(float64(at.Minute()*(i+1)) / 3)}},
			})
		}
	}
	if _, err := svc.Write(context.Background(), "fleet", "cpu", &tables.WriteRequest{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Sync("fleet", "cpu"); err != nil {
		t.Fatal(err)
	}
	return c, svc
}

const rollupQuery = `SELECT host, bin(time, INTERVAL 1 HOUR) AS time, avg(usage_user) AS mean_usage_user, count(*) AS n ` +
	`FROM fleet.cpu WHERE time >= @scheduled_runtime - INTERVAL 1 HOUR AND time < @scheduled_runtime GROUP BY ALL`

func TestScheduledQueryLifecycle(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	c, svc := startTablesService(t, clock)

	body := fmt.Sprintf(`{"name":"cpu_hourly","query":%q,"schedule":"rate(1 hour)","target":{"database":"fleet","table":"cpu_hourly"}}`, rollupQuery)
	r := c.do("POST", "/v1/scheduled-queries", body)
	if r.status != 201 || r.header.Get("Location") != "/v1/scheduled-queries/cpu_hourly" {
		t.Fatalf("create: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	var q wire.ScheduledQuery
	c.json("GET", "/v1/scheduled-queries/cpu_hourly", "", 200, &q)
	if !q.Enabled || q.IntervalSeconds != 3600 || q.Target.TimeColumn != "time" || q.NextInvocation == nil ||
		!q.NextInvocation.Equal(clock.Now().Add(time.Hour)) || q.LastRun != nil {
		t.Fatalf("describe: %+v", q)
	}
	wantError(t, c.do("POST", "/v1/scheduled-queries", body), 409, tables.CodeScheduledQueryExists)
	// No dimensions at all is not the default, every VARCHAR column.
	var noDims wire.ScheduledQuery
	c.json("POST", "/v1/scheduled-queries", fmt.Sprintf(`{"name":"no_dims","query":%q,"schedule":"1h","target":{"database":"fleet","table":"cpu_hourly","dimensions":[]}}`, rollupQuery), 201, &noDims)
	if noDims.Target.Dimensions == nil || len(noDims.Target.Dimensions) != 0 || q.Target.Dimensions != nil {
		t.Fatalf("dimensions [] came back as %#v, the default as %#v", noDims.Target.Dimensions, q.Target.Dimensions)
	}
	c.json("DELETE", "/v1/scheduled-queries/no_dims", "", 204, nil)

	// Bad input names the field at fault.
	for _, c2 := range []struct {
		body, code string
		says       []string
	}{
		{`{"query":"SELECT 1","schedule":"1h","target":{"database":"fleet","table":"cpu_hourly"}}`, "MissingParameter", []string{"name"}},
		{`{"name":"x1x","query":"SELECT 1","schedule":"1h","target":{"database":"fleet"}}`, "MissingParameter", []string{"target.table"}},
		{`{"name":"no","query":"SELECT 1","schedule":"1h","target":{"database":"fleet","table":"cpu_hourly"}}`, tables.CodeInvalidName, []string{"3 to 256"}},
		{fmt.Sprintf(`{"name":"x1x","query":%q,"schedule":"every hour","target":{"database":"fleet","table":"cpu_hourly"}}`, rollupQuery), tables.CodeInvalidSchedule, []string{"schedule", "rate(1 hour)"}},
		{fmt.Sprintf(`{"name":"x1x","query":%q,"schedule":"1h","target":{"database":"fleet","table":"nope"}}`, rollupQuery), tables.CodeInvalidTarget, []string{"target", `"nope"`}},
		{`{"name":"x1x","query":"DELETE FROM fleet.cpu","schedule":"1h","target":{"database":"fleet","table":"cpu_hourly"}}`, tables.CodeInvalidQuery, []string{"query", "DELETE"}},
		{fmt.Sprintf(`{"name":"x1x","query":%q,"schedule":"1h","target":{"database":"fleet","table":"cpu_hourly","timeColumn":"hour"}}`, rollupQuery), tables.CodeInvalidTimeColumn, []string{"target.timeColumn", `"hour"`}},
		{`{"name":"x1x","query":"SELECT 1","schedule":"1h","target":{"database":"fleet","table":"cpu_hourly"},"every":"1h"}`, "UnknownField", []string{"every"}},
	} {
		wantError(t, c.do("POST", "/v1/scheduled-queries", c2.body), 400, c2.code, c2.says...)
	}

	// Backfill the three hours before the creation, one invocation at a time.
	for h := 2; h >= 0; h-- {
		at := clock.Now().Add(-time.Duration(h) * time.Hour).Format(time.RFC3339)
		var run wire.ScheduledQueryRun
		c.json("POST", "/v1/scheduled-queries/cpu_hourly/runs", `{"invocationTime":"`+at+`"}`, 200, &run)
		if run.Error != "" || run.RowsWritten != 2 || !run.Manual || run.InvocationTime.Format(time.RFC3339) != at {
			t.Fatalf("run at %s: %+v", at, run)
		}
	}
	wantError(t, c.do("POST", "/v1/scheduled-queries/cpu_hourly/runs", `{}`), 400, "MissingParameter", "invocationTime")
	wantError(t, c.do("POST", "/v1/scheduled-queries/nope/runs", `{"invocationTime":"2026-11-25T12:00:00Z"}`), 404, tables.CodeScheduledQueryNotFound)

	// The rollup answers what the raw table answers.
	rows := func(q string) string {
		var res wire.QueryResponse
		c.json("POST", "/v1/query", fmt.Sprintf(`{"query":%q}`, q), 200, &res)
		return fmt.Sprint(res.Rows)
	}
	rolled := rows(`SELECT host, time, mean_usage_user, n FROM fleet.cpu_hourly ORDER BY ALL`)
	direct := rows(`SELECT host, bin(time, INTERVAL 1 HOUR) AS t, avg(usage_user), count(*) FROM fleet.cpu GROUP BY ALL ORDER BY ALL`)
	if rolled != direct || rolled == "[]" {
		t.Fatalf("rollup %s\nraw %s", rolled, direct)
	}

	c.json("GET", "/v1/scheduled-queries/cpu_hourly", "", 200, &q)
	if q.LastRun == nil || q.LastRun.RowsWritten != 2 || !q.LastRun.InvocationTime.Equal(clock.Now()) {
		t.Fatalf("status after the backfill: %+v", q.LastRun)
	}

	// Disabled, it does not run; its schedule changes.
	var updated wire.ScheduledQuery
	c.json("PATCH", "/v1/scheduled-queries/cpu_hourly", `{"enabled":false,"schedule":"30m"}`, 200, &updated)
	if updated.Enabled || updated.NextInvocation != nil || updated.IntervalSeconds != 1800 {
		t.Fatalf("update: %+v", updated)
	}
	clock.mu.Lock()
	clock.t = clock.t.Add(2 * time.Hour)
	clock.mu.Unlock()
	if n := svc.RunDue(context.Background(), clock.Now()); n != 0 {
		t.Fatalf("a disabled query ran %d times", n)
	}
	wantError(t, c.do("PATCH", "/v1/scheduled-queries/cpu_hourly", `{}`), 400, "EmptyUpdate")
	wantError(t, c.do("PATCH", "/v1/scheduled-queries/cpu_hourly", `{"query":"SELECT 1 AS x"}`), 400, tables.CodeInvalidTimeColumn, "target.timeColumn")

	var list wire.ListScheduledQueriesResponse
	c.json("GET", "/v1/scheduled-queries", "", 200, &list)
	if len(list.ScheduledQueries) != 1 || list.ScheduledQueries[0].Name != "cpu_hourly" || list.ScheduledQueries[0].Schedule != "30m" {
		t.Fatalf("list: %+v", list)
	}
	c.json("DELETE", "/v1/scheduled-queries/cpu_hourly", "", 204, nil)
	wantError(t, c.do("GET", "/v1/scheduled-queries/cpu_hourly", ""), 404, tables.CodeScheduledQueryNotFound)
}
