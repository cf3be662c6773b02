package tablesbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/bench/tsbs"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
)

// query is one of TSBS's typical queries, as SQL on the tables' views.
//
// The last row per device is a semi-join with each device's latest time, the fastest
// form DuckDB ran on the cpu-only data set in memory: 4,320,000 rows, arg_max(x, time)
// took about 10 times as long (DuckDB's generic arg_max for a TIMESTAMP_NS key; 3 times
// with epoch_ns(time) as the key, once per measure), an arg_max of a struct of the
// measures 20 times, QUALIFY row_number() 30 times, DISTINCT ON 200 times.
type query struct {
	// name is TSBS's name for the query.
	name string
	desc string
	// targetMs is the latency the issue asks for; 0 means none.
	targetMs float64
	// sql returns the statement with parameters drawn from r, as TSBS draws a random
	// host, hour or fleet for each execution.
	sql func(r *rand.Rand) string
	// sameAs, when set, is another form of the same question (a scan of the table where
	// sql reads a view kept for it): before timing, both run once with the same
	// parameters and must return the same rows.
	sameAs func(r *rand.Rand) string
}

// The measures of each table, for the mean of every metric and the count of values.
var (
	cpuMeasures = []string{
		"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
		"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
	}
	readingsMeasures    = []string{"latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"}
	diagnosticsMeasures = []string{"fuel_state", "current_load", "status"}
	fleets              = []string{"East", "West", "North", "South"}
)

func measuresOf(table string) []string {
	switch table {
	case "readings":
		return readingsMeasures
	case "diagnostics":
		return diagnosticsMeasures
	}
	return cpuMeasures
}

// sqlTime writes t as a DuckDB timestamp literal.
func sqlTime(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05") + "'"
}

// randomWindow is a window of length d, starting on a whole hour (TSBS's queries start
// on a random time; whole hours keep the SQL readable), inside what ds holds; the whole
// of it when it is shorter.
func randomWindow(r *rand.Rand, ds DataSet, d time.Duration) time.Time {
	slack := ds.End.Sub(ds.Start) - d
	if slack < time.Hour {
		return ds.Start
	}
	return ds.Start.Add(time.Duration(r.Int64N(int64(slack/time.Hour)+1)) * time.Hour)
}

// queriesFor are the queries of use case u on data set ds.
func queriesFor(u UseCase, tcfg tsbs.Config, ds DataSet) []query {
	if u == IoT {
		return iotQueries()
	}
	hosts := tcfg.Hosts
	lastpoint := func(*rand.Rand) string {
		return "SELECT c.* FROM bench.cpu c SEMI JOIN (" +
			"SELECT hostname, max(time) AS time FROM bench.cpu GROUP BY hostname) l ON c.hostname = l.hostname AND c.time = l.time"
	}
	return []query{
		{
			name: "lastpoint", desc: "last point per host, from the cpu$last view", targetMs: 5,
			sql:    func(*rand.Rand) string { return `SELECT * FROM bench."cpu$last"` },
			sameAs: lastpoint,
		},
		{name: "lastpoint (scan)", desc: "last point per host, scanning the table", sql: lastpoint},
		{
			name: "single-groupby-1-1-1", desc: "max of one host over 1 h, 1-minute buckets", targetMs: 2,
			sql: func(r *rand.Rand) string {
				from := randomWindow(r, ds, time.Hour)
				return fmt.Sprintf("SELECT time_bucket(INTERVAL '1 minute', time) AS minute, max(usage_user) AS max_usage_user "+
					"FROM bench.cpu WHERE hostname = 'host_%d' AND time >= %s AND time < %s GROUP BY minute ORDER BY minute",
					r.IntN(hosts), sqlTime(from), sqlTime(from.Add(time.Hour)))
			},
		},
		{
			name: "double-groupby-all", desc: "mean of every metric per host per hour, 12 h", targetMs: 20,
			sql: func(r *rand.Rand) string {
				from := randomWindow(r, ds, 12*time.Hour)
				return fmt.Sprintf("SELECT hostname, time_bucket(INTERVAL '1 hour', time) AS hour, %s "+
					"FROM bench.cpu WHERE time >= %s AND time < %s GROUP BY hostname, hour ORDER BY hostname, hour",
					avgsOf(cpuMeasures), sqlTime(from), sqlTime(from.Add(12*time.Hour)))
			},
		},
	}
}

func iotQueries() []query {
	fleet := func(r *rand.Rand) string { return fleets[r.IntN(len(fleets))] }
	// A truck's rows without one of its tags (TSBS drops one now and then) are another
	// series, so the views hold a few rows per truck: the last-point queries ask them
	// the question they ask the table.
	lastLoc := func(table string) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT name, driver, latitude, longitude FROM %s r SEMI JOIN ("+
				"SELECT name, max(time) AS time FROM %s WHERE fleet = '%s' AND name IS NOT NULL GROUP BY name) l "+
				"ON r.name = l.name AND r.time = l.time", table, table, fleet(r))
		}
	}
	lowFuel := func(table string) func(r *rand.Rand) string {
		return func(r *rand.Rand) string {
			return fmt.Sprintf("SELECT name, driver, fuel_state FROM %s d SEMI JOIN ("+
				"SELECT name, max(time) AS time FROM %s WHERE fleet = '%s' AND name IS NOT NULL GROUP BY name) l "+
				"ON d.name = l.name AND d.time = l.time WHERE fuel_state < 0.1", table, table, fleet(r))
		}
	}
	return []query{
		{
			name: "last-loc", desc: "last location per truck of a fleet, from the readings$last view",
			sql: lastLoc(`bench."readings$last"`), sameAs: lastLoc("bench.readings"),
		},
		{name: "last-loc (scan)", desc: "last location per truck of a fleet, scanning the table", sql: lastLoc("bench.readings")},
		{
			name: "low-fuel", desc: "trucks of a fleet whose last fuel_state < 0.1, from the diagnostics$last view",
			sql: lowFuel(`bench."diagnostics$last"`), sameAs: lowFuel("bench.diagnostics"),
		},
		{name: "low-fuel (scan)", desc: "trucks of a fleet whose last fuel_state < 0.1, scanning the table", sql: lowFuel("bench.diagnostics")},
		{
			name: "avg-load", desc: "average load per fleet, model and day",
			sql: func(*rand.Rand) string {
				return "SELECT fleet, model, day, avg(avg_load / CAST(load_capacity AS DOUBLE)) AS avg_load_percentage FROM (" +
					"SELECT fleet, model, load_capacity, name, time_bucket(INTERVAL '1 day', time) AS day, avg(current_load) AS avg_load " +
					"FROM bench.diagnostics WHERE name IS NOT NULL GROUP BY ALL) GROUP BY fleet, model, day ORDER BY fleet, model, day"
			},
		},
		{
			name: "daily-activity", desc: "share of 10-minute periods in service, per fleet, model and day",
			sql: func(*rand.Rand) string {
				return "SELECT fleet, model, day, sum(ten_mins_per_day) / 144 AS daily_activity FROM (" +
					"SELECT fleet, model, name, time_bucket(INTERVAL '1 day', time) AS day, time_bucket(INTERVAL '10 minutes', time) AS ten_minutes, " +
					"count(*) AS ten_mins_per_day FROM bench.diagnostics WHERE name IS NOT NULL GROUP BY ALL HAVING avg(status) < 1) " +
					"GROUP BY fleet, model, day ORDER BY day, fleet, model"
			},
		},
	}
}

func avgsOf(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "avg(" + c + ") AS mean_" + c
	}
	return strings.Join(parts, ", ")
}

// warmups is how many untimed executions each query gets first.
const warmups = 3

// runQueries times each query through the engine's Query and NextPage, the path of
// POST /v1/query, reading every page of the result.
func (b *bench) runQueries(ctx context.Context, e *env, qs []query) ([]QueryResult, error) {
	r := rand.New(rand.NewPCG(b.cfg.Seed, 7))
	var out []QueryResult
	for _, q := range qs {
		if q.sameAs != nil {
			if err := e.sameRows(ctx, q, b.cfg.Seed); err != nil {
				return out, err
			}
		}
		res := QueryResult{Name: q.name, Desc: q.desc, TargetMs: q.targetMs}
		var times []float64
		for i := range warmups + b.cfg.QueryRuns {
			stmt := q.sql(r)
			start := time.Now()
			rows, err := e.queryAll(ctx, stmt)
			elapsed := time.Since(start)
			if err != nil {
				return out, fmt.Errorf("query %s: %s: %w", q.name, stmt, err)
			}
			if i < warmups {
				if i == 0 {
					res.SQL = stmt
				}
				continue
			}
			res.Rows += rows
			times = append(times, ms(elapsed))
		}
		res.Rows /= int64(b.cfg.QueryRuns)
		res.Ms = summarise(times)
		res.P90Ms = quantile(times, 0.9)
		out = append(out, res)
	}
	return out, nil
}

// queryAll runs stmt and reads its result to the end, returning its row count.
func (e *env) queryAll(ctx context.Context, stmt string) (int64, error) {
	res, err := e.eng.Query(ctx, stmt, eddysql.QueryOptions{PageSize: 10_000})
	if err != nil {
		return 0, err
	}
	n := int64(len(res.Rows))
	for res.NextToken != "" {
		if res, err = e.eng.NextPage(ctx, res.NextToken); err != nil {
			return 0, err
		}
		n += int64(len(res.Rows))
	}
	return n, nil
}

// sameRows runs q and its sameAs form with the same parameters and fails unless they
// return the same rows, in any order.
func (e *env) sameRows(ctx context.Context, q query, seed uint64) error {
	var results [2][]string
	for i, form := range []func(*rand.Rand) string{q.sql, q.sameAs} {
		stmt := form(rand.New(rand.NewPCG(seed, 11)))
		rows, err := e.eng.DB().QueryContext(ctx, stmt)
		if err != nil {
			return fmt.Errorf("query %s: %s: %w", q.name, stmt, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			results[i] = append(results[i], fmt.Sprint(vals...))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.Sort(results[i])
	}
	if !slices.Equal(results[0], results[1]) {
		return fmt.Errorf("query %s: %d rows differ from the %d rows of the same question asked of the table", q.name, len(results[0]), len(results[1]))
	}
	return nil
}

// describe counts what e's tables hold, as queries see it: rows, values (non-null
// measures), the time range.
func (e *env) describe(ctx context.Context) (DataSet, error) {
	ds := DataSet{Rows: e.rows, Values: e.values, Start: e.tcfg.Start, Span: e.tcfg.Duration}
	for _, t := range e.tables {
		var counts []string
		for _, m := range measuresOf(t) {
			counts = append(counts, "count("+m+")")
		}
		stmt := fmt.Sprintf("SELECT count(*), %s, epoch_ns(max(time)) FROM bench.%s", strings.Join(counts, " + "), t)
		var rows, values, maxNs int64
		if err := e.eng.DB().QueryRowContext(ctx, stmt).Scan(&rows, &values, &maxNs); err != nil {
			return ds, fmt.Errorf("count %s: %w", t, err)
		}
		ds.Tables = append(ds.Tables, TableData{Name: t, Rows: rows, Values: values})
		ds.StoredRows += rows
		ds.StoredValues += values
		if end := time.Unix(0, maxNs).Add(e.tcfg.Interval).UTC(); end.After(ds.End) {
			ds.End = end
		}
	}
	return ds, nil
}

// summarise is the median and range of xs.
func summarise(xs []float64) Spread {
	if len(xs) == 0 {
		return Spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Spread{Median: quantile(s, 0.5), Min: s[0], Max: s[len(s)-1]}
}

// quantile is the nearest-rank q-quantile of xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
