package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// hourlyRollup is the rollup the scheduled-query tests run: per host and hour, over the
// hour before the invocation time, as a Timestream user writes it.
const hourlyRollup = `SELECT host, bin(time, INTERVAL 1 HOUR) AS time, avg(usage_user) AS mean_user, max(usage_system) AS max_system, count(*) AS n
FROM fleet.cpu
WHERE time >= @scheduled_runtime - INTERVAL 1 HOUR AND time < @scheduled_runtime
GROUP BY host, bin(time, INTERVAL 1 HOUR)`

// The same aggregation on the raw table, and the rollup's table read the same way.
const (
	directHourly = `SELECT host, bin(time, INTERVAL 1 HOUR) AS t, avg(usage_user), max(usage_system), count(*) FROM fleet.cpu GROUP BY ALL ORDER BY host, t`
	rolledHourly = `SELECT host, time, mean_user, max_system, n FROM fleet.cpu_hourly ORDER BY host, time`
)

// writeMinutes writes one row per host and minute from from (inclusive) to to
// (exclusive), with values that differ per minute and host.
func (h *harness) writeMinutes(from, to time.Time, hosts ...string) {
	h.t.Helper()
	var recs []Record
	for at := from; at.Before(to); at = at.Add(time.Minute) {
		for i, host := range hosts {
			recs = append(recs, cpu(host, at, float64(at.Minute())+float64(i)*0.25+float64(at.Hour())/7, 0))
		}
	}
	h.write("fleet", "cpu", recs...)
}

// newRollup creates fleet.cpu holding the three hours before the clock's time for
// hosts a, b and c, fleet.cpu_hourly and the hourly rollup between them.
func newRollup(t *testing.T) *harness {
	h := newHarness(t)
	h.createTable("fleet", "cpu", TableOptions{})
	// The query is checked against the columns the source table has learned.
	h.writeMinutes(h.clock.Now().Add(-3*time.Hour), h.clock.Now(), "a", "b", "c")
	if _, err := h.svc.CreateTable("fleet", "cpu_hourly", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CreateScheduledQuery(context.Background(), "cpu_hourly", ScheduledQueryDefinition{
		Query: hourlyRollup, Schedule: "rate(1 hour)", Target: ScheduledTarget{Database: "fleet", Table: "cpu_hourly"},
	}); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) runAt(name string, at time.Time) ScheduledRun {
	h.t.Helper()
	run, err := h.svc.RunScheduledQuery(context.Background(), name, at)
	if err != nil {
		h.t.Fatal(err)
	}
	if run.Failed() {
		h.t.Fatalf("run of %s at %s failed: %s", name, at, run.Error)
	}
	return run
}

func (h *harness) runDue(want int) {
	h.t.Helper()
	if n := h.svc.RunDue(context.Background(), h.clock.Now()); n != want {
		h.t.Fatalf("RunDue at %s ran %d invocations, want %d", h.clock.Now(), n, want)
	}
}

func (h *harness) describeScheduled(name string) ScheduledQuery {
	h.t.Helper()
	q, err := h.svc.DescribeScheduledQuery(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

func (h *harness) sameRows(a, b string) {
	h.t.Helper()
	x, y := h.query(a), h.query(b)
	if len(x) == 0 || fmt.Sprint(x) != fmt.Sprint(y) {
		h.t.Fatalf("%s\n gives %q\n%s\n gives %q", a, x, b, y)
	}
}

func TestScheduledRollupEqualsDirectAggregation(t *testing.T) {
	h := newRollup(t)
	start := h.clock.Now() // 12:00

	q := h.describeScheduled("cpu_hourly")
	if !q.Enabled || q.Interval != time.Hour || !q.LastScheduledInvocation.Equal(start) || !q.NextInvocation.Equal(start.Add(time.Hour)) ||
		q.Target.TimeColumn != "time" || q.LastRun != nil {
		t.Fatalf("created %+v", q)
	}
	h.runDue(0) // created at 12:00: the first scheduled invocation is 13:00

	// Backfill the three hours before the creation.
	for at := start.Add(-2 * time.Hour); !at.After(start); at = at.Add(time.Hour) {
		if run := h.runAt("cpu_hourly", at); run.RowsWritten != 3 || run.RowsRejected != 0 || run.RowsSkipped != 0 || !run.Manual {
			t.Fatalf("backfill at %s: %+v", at, run)
		}
	}
	h.sameRows(rolledHourly, directHourly)

	// The next hour's data, then the scheduled invocation at 13:00.
	h.clock.Add(time.Hour + 30*time.Second)
	h.writeMinutes(start, start.Add(time.Hour), "a", "b", "c")
	h.runDue(1)
	h.runDue(0)
	q = h.describeScheduled("cpu_hourly")
	if r := q.LastRun; r == nil || r.Manual || !r.InvocationTime.Equal(start.Add(time.Hour)) || r.RowsWritten != 3 || r.Failed() ||
		!q.NextInvocation.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("after the scheduled run: %+v %+v", q, q.LastRun)
	}
	h.sameRows(rolledHourly, directHourly)
	h.expect(`SELECT count(*), count(DISTINCT measure_name), min(measure_name) FROM fleet.cpu_hourly`, "12 | 1 | cpu_hourly")
	h.expect(`SELECT typeof(mean_user), typeof(n) FROM fleet.cpu_hourly LIMIT 1`, "DOUBLE | BIGINT")

	// Late data for 12:00-13:00: running the invocation again replaces its rows.
	before := q.LastRun.Version
	h.clock.Add(time.Minute)
	h.write("fleet", "cpu", cpu("a", start.Add(30*time.Minute+30*time.Second), 1000, 0))
	run := h.runAt("cpu_hourly", start.Add(time.Hour))
	if run.Version <= before {
		t.Fatalf("the re-run wrote version %d, not above %d", run.Version, before)
	}
	h.sameRows(rolledHourly, directHourly)
	h.expect(`SELECT count(*) FROM fleet.cpu_hourly`, "12")
	h.expect(`SELECT n FROM fleet.cpu_hourly WHERE host = 'a' AND time = '`+start.Format("2006-01-02 15:04:05")+`'`, "61")
}

func TestScheduledQuerySurvivesRestart(t *testing.T) {
	h := newRollup(t)
	start := h.clock.Now()
	h.runAt("cpu_hourly", start)
	if _, err := h.svc.UpdateScheduledQuery(context.Background(), "cpu_hourly", ScheduledQueryUpdate{Schedule: ptr("30m")}); err != nil {
		t.Fatal(err)
	}
	before := h.describeScheduled("cpu_hourly")
	if _, err := os.Stat(filepath.Join(h.dir, "tables", "scheduled.json")); err != nil {
		t.Fatal(err)
	}

	h.reopen()
	after := h.describeScheduled("cpu_hourly")
	if before.LastRun == nil || after.LastRun == nil || fmt.Sprintf("%+v", *before.LastRun) != fmt.Sprintf("%+v", *after.LastRun) {
		t.Fatalf("last run before the restart\n%+v\nafter\n%+v", before.LastRun, after.LastRun)
	}
	before.LastRun, after.LastRun = nil, nil
	if fmt.Sprintf("%+v", before) != fmt.Sprintf("%+v", after) {
		t.Fatalf("before the restart\n%+v\nafter\n%+v", before, after)
	}
	if after.Schedule != "30m" || after.Interval != 30*time.Minute || h.describeScheduled("cpu_hourly").LastRun.RowsWritten != 3 {
		t.Fatalf("after the restart: %+v", after)
	}

	// Down for three and a half hours: only the latest missed invocation runs.
	h.clock.Add(3*time.Hour + 40*time.Minute)
	h.runDue(1)
	q := h.describeScheduled("cpu_hourly")
	latest := start.Add(3*time.Hour + 30*time.Minute)
	if !q.LastScheduledInvocation.Equal(latest) || !q.LastRun.InvocationTime.Equal(latest) || q.LastRun.Failed() {
		t.Fatalf("after the gap: %+v %+v", q, q.LastRun)
	}
	h.runDue(0)
}

func TestScheduledQueryFailuresAreRecorded(t *testing.T) {
	h := newRollup(t)
	start := h.clock.Now()
	ctx := context.Background()

	// The target table deleted: the run fails, says why, and nothing crashes.
	if err := h.svc.DeleteTable("fleet", "cpu_hourly"); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Hour)
	h.writeMinutes(start, start.Add(time.Hour), "a", "b")
	h.runDue(1)
	q := h.describeScheduled("cpu_hourly")
	if r := q.LastRun; r == nil || !strings.Contains(r.Error, "target table fleet.cpu_hourly") || !strings.Contains(r.Error, "does not exist") {
		t.Fatalf("run without a target: %+v", q.LastRun)
	}
	// A run of the same query by hand fails the same way, without an error of the call.
	if run, err := h.svc.RunScheduledQuery(ctx, "cpu_hourly", start.Add(time.Hour)); err != nil || !run.Failed() {
		t.Fatalf("manual run without a target: %+v %v", run, err)
	}

	// The table created again: the next invocation works.
	if _, err := h.svc.CreateTable("fleet", "cpu_hourly", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Hour)
	h.writeMinutes(start.Add(time.Hour), start.Add(2*time.Hour), "a", "b")
	h.runDue(1)
	if r := h.describeScheduled("cpu_hourly").LastRun; r.Failed() || r.RowsWritten != 2 {
		t.Fatalf("run after the target came back: %+v", r)
	}

	// The source table deleted: the query fails at run time.
	if err := h.svc.DeleteTable("fleet", "cpu"); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(time.Hour)
	h.runDue(1)
	if r := h.describeScheduled("cpu_hourly").LastRun; !strings.HasPrefix(r.Error, "query: ") || !strings.Contains(r.Error, "cpu") {
		t.Fatalf("run without its source: %+v", r)
	}
	h.createTableIn("fleet", "cpu")
	h.clock.Add(time.Hour)
	h.writeMinutes(start.Add(3*time.Hour), start.Add(4*time.Hour), "a")
	h.runDue(1)
	if r := h.describeScheduled("cpu_hourly").LastRun; r.Failed() || r.RowsWritten != 1 {
		t.Fatalf("run after the source came back: %+v", r)
	}

	// A query that fails while it runs, though it binds.
	if _, err := h.svc.UpdateScheduledQuery(ctx, "cpu_hourly", ScheduledQueryUpdate{
		Query: ptr(`SELECT time, CAST('not a number ' || host AS BIGINT) AS n FROM fleet.cpu WHERE time < @scheduled_runtime`),
	}); err != nil {
		t.Fatal(err)
	}
	run, err := h.svc.RunScheduledQuery(ctx, "cpu_hourly", start.Add(5*time.Hour))
	if err != nil || !strings.Contains(run.Error, "InvalidQuery") {
		t.Fatalf("run of a failing query: %+v %v", run, err)
	}
	// The counters /metrics shows: six runs, four of them failed, three records written.
	if st := h.svc.Stats(); st.ScheduledRuns != 6 || st.ScheduledFailures != 4 || st.ScheduledRows != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func (h *harness) createTableIn(db, table string) {
	h.t.Helper()
	if _, err := h.svc.CreateTable(db, table, TableOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func TestDisabledScheduledQueryDoesNotRun(t *testing.T) {
	h := newRollup(t)
	ctx := context.Background()
	if _, err := h.svc.UpdateScheduledQuery(ctx, "cpu_hourly", ScheduledQueryUpdate{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if q := h.describeScheduled("cpu_hourly"); q.Enabled || !q.NextInvocation.IsZero() {
		t.Fatalf("disabled: %+v", q)
	}
	h.clock.Add(5 * time.Hour)
	h.runDue(0)
	if q := h.describeScheduled("cpu_hourly"); q.LastRun != nil {
		t.Fatalf("a disabled query ran: %+v", q.LastRun)
	}
	// Enabled again, it runs from the next invocation on, not the missed ones.
	if _, err := h.svc.UpdateScheduledQuery(ctx, "cpu_hourly", ScheduledQueryUpdate{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	h.runDue(0)
	h.clock.Add(time.Hour)
	h.runDue(1)
}

func TestScheduledQueryRowsSkippedAndRejected(t *testing.T) {
	h := newRollup(t)
	now := h.clock.Now()
	ts := func(d time.Duration) string { return "TIMESTAMP '" + now.Add(d).Format("2006-01-02 15:04:05") + "'" }
	q := `SELECT * FROM (VALUES
		(` + ts(-time.Hour) + `, 'a', 1.5, 7, true, 'x'),
		(NULL, 'b', 2.0, 1, true, 'x'),
		(` + ts(-time.Hour) + `, 'c', NULL, NULL, NULL, NULL),
		(` + ts(-time.Hour) + `, 'd', 'NaN'::DOUBLE, 1, false, 'x'),
		(` + ts(-10*time.Hour) + `, 'e', 1.0, 1, false, 'x'),
		(` + ts(-time.Hour) + `, NULL, 3.0, NULL, NULL, NULL)
	) AS t(tm, host, v, n, ok, label)`
	if _, err := h.svc.CreateScheduledQuery(context.Background(), "values", ScheduledQueryDefinition{
		Query: q, Schedule: "1h", Target: ScheduledTarget{Database: "fleet", Table: "cpu_hourly", TimeColumn: "tm", Dimensions: []string{"host"}, MeasureName: "m"},
	}); err != nil {
		t.Fatal(err)
	}
	run := h.runAt("values", now)
	if run.RowsWritten != 2 || run.RowsSkipped != 2 || run.RowsRejected != 2 || len(run.Rejections) != 2 ||
		!strings.Contains(run.Rejections[0], "row 4: InvalidRecord") || !strings.Contains(run.Rejections[1], "row 5: RecordTooOld") {
		t.Fatalf("run: %+v", run)
	}
	h.expect(`SELECT host, measure_name, v, n, ok, label FROM fleet.cpu_hourly ORDER BY host NULLS LAST`,
		"a | m | 1.5 | 7 | true | x", "<nil> | m | 3 | <nil> | <nil> | <nil>")
}

func TestScheduledQueryValidation(t *testing.T) {
	h := newRollup(t)
	ctx := context.Background()
	target := ScheduledTarget{Database: "fleet", Table: "cpu_hourly"}
	cases := []struct {
		name, query, schedule string
		target                ScheduledTarget
		code, says            string
	}{
		{"okay", hourlyRollup, "30s", target, CodeInvalidSchedule, "1m0s"},
		{"okay", hourlyRollup, "rate(2 fortnights)", target, CodeInvalidSchedule, "rate(1 hour)"},
		{"okay", hourlyRollup, "cron(0 * * * ? *)", target, CodeInvalidSchedule, "cron"},
		{"okay", "INSERT INTO fleet.cpu VALUES (1)", "1h", target, CodeInvalidQuery, "not INSERT"},
		{"okay", "SHOW TABLES", "1h", target, CodeInvalidQuery, "not SHOW"},
		{"okay", "SELECT nope FROM fleet.cpu", "1h", target, CodeInvalidQuery, "nope"},
		{"okay", "SELECT 1 AS x; SELECT 2 AS x", "1h", target, CodeInvalidQuery, ""},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "fleet", Table: "missing"}, CodeInvalidTarget, `"missing" does not exist`},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "nodb", Table: "cpu_hourly"}, CodeInvalidTarget, `"nodb" does not exist`},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "fleet", Table: "cpu_hourly", TimeColumn: "hour"}, CodeInvalidTimeColumn, `"hour"`},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "fleet", Table: "cpu_hourly", TimeColumn: "n"}, CodeInvalidTimeColumn, "not a TIMESTAMP"},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "fleet", Table: "cpu_hourly", Dimensions: []string{"n"}}, CodeInvalidTarget, "VARCHAR"},
		{"okay", hourlyRollup, "1h", ScheduledTarget{Database: "fleet", Table: "cpu_hourly", Dimensions: []string{"region"}}, CodeInvalidTarget, `no column "region"`},
		{"okay", "SELECT TIMESTAMP '2026-01-01' AS time, DATE '2026-01-01' AS d", "1h", target, CodeInvalidColumnType, "DATE"},
		{"okay", "SELECT TIMESTAMP '2026-01-01' AS time, 'x' AS measure_name, 1 AS v", "1h", ScheduledTarget{Database: "fleet", Table: "cpu_hourly", Dimensions: []string{}}, CodeInvalidQuery, "reserved"},
		{"okay", "SELECT TIMESTAMP '2026-01-01' AS time, 'x' AS measure_name, 1 AS v", "1h", target, CodeInvalidQuery, "reserved"},
		{"no", hourlyRollup, "1h", target, CodeInvalidName, "3 to 256"},
		{"CPU_HOURLY", hourlyRollup, "1h", target, CodeScheduledQueryExists, ""},
	}
	for _, c := range cases {
		_, err := h.svc.CreateScheduledQuery(ctx, c.name, ScheduledQueryDefinition{Query: c.query, Schedule: c.schedule, Target: c.target})
		e, ok := apierr.As(err)
		if !ok || e.Code != c.code || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s %q %q %+v: got %v, want %s saying %q", c.name, c.query, c.schedule, c.target, err, c.code, c.says)
		}
	}
	if _, err := h.svc.UpdateScheduledQuery(ctx, "cpu_hourly", ScheduledQueryUpdate{Query: ptr("SELECT 1 AS x")}); apierr.CodeOf(err) != CodeInvalidTimeColumn {
		t.Errorf("update to a query without a time column: %v", err)
	}
	if _, err := h.svc.UpdateScheduledQuery(ctx, "gone", ScheduledQueryUpdate{Enabled: ptr(true)}); apierr.CodeOf(err) != CodeScheduledQueryNotFound {
		t.Errorf("update of a missing query: %v", err)
	}
	if err := h.svc.DeleteScheduledQuery("cpu_hourly"); err != nil {
		t.Fatal(err)
	}
	if len(h.svc.ListScheduledQueries()) != 0 {
		t.Fatal("the deleted query is listed")
	}
	h.reopen()
	if len(h.svc.ListScheduledQueries()) != 0 {
		t.Fatal("the deleted query came back after a restart")
	}
}

func TestParseSchedule(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"1h": time.Hour, "5m": 5 * time.Minute, "rate(1 hour)": time.Hour, "rate(5 minutes)": 5 * time.Minute,
		"rate(1 day)": 24 * time.Hour, "rate( 2 hours )": 2 * time.Hour, "90m": 90 * time.Minute,
	} {
		if got, err := parseSchedule(s); err != nil || got != want {
			t.Errorf("%q: %s %v, want %s", s, got, err, want)
		}
	}
	at := time.Date(2026, 11, 25, 12, 34, 56, 0, time.UTC)
	if got := alignDown(at, 90*time.Minute); got.UnixNano()%int64(90*time.Minute) != 0 || at.Sub(got) >= 90*time.Minute || got.After(at) {
		t.Errorf("90m invocation at or before %s: %s", at, got)
	}
}

// Manual and scheduled runs of one query asked for at once each succeed with a version
// of their own, and the rollup ends with one row per host and hour.
func TestConcurrentRunsOfOneScheduledQuery(t *testing.T) {
	h := newRollup(t)
	start := h.clock.Now()
	h.clock.Add(time.Hour)
	h.writeMinutes(start, start.Add(time.Hour), "a", "b", "c")
	var wg sync.WaitGroup
	runs := make([]ScheduledRun, 4)
	for i := range runs {
		wg.Go(func() {
			var err error
			if runs[i], err = h.svc.RunScheduledQuery(context.Background(), "cpu_hourly", start.Add(time.Duration(i%2)*time.Hour)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Go(func() { h.svc.RunDue(context.Background(), h.clock.Now()) })
	wg.Wait()
	versions := map[int64]bool{}
	for _, r := range runs {
		if r.Failed() || r.RowsWritten != 3 || r.RowsRejected != 0 || versions[r.Version] {
			t.Fatalf("runs %+v", runs)
		}
		versions[r.Version] = true
	}
	h.sameRows(rolledHourly, `SELECT host, bin(time, INTERVAL 1 HOUR) AS t, avg(usage_user), max(usage_system), count(*) FROM fleet.cpu
		WHERE time >= '`+start.Add(-time.Hour).Format(time.DateTime)+`' GROUP BY ALL ORDER BY host, t`)
}
