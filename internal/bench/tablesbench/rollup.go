package tablesbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// rollupTable is the derived table the hourly rollup of bench.cpu writes, and
// rollupName the scheduled query that computes it.
const (
	rollupTable = "cpu_hourly"
	rollupName  = "cpu_hourly"
)

// rollupQuery derives bench.cpu_hourly from the cpu-only data set in e, as a Timestream
// user would with a scheduled query: per host and hour, the mean of every metric over
// the hour before @scheduled_runtime. It backfills every hourly invocation covering ds,
// checks that the rollup's 12 hours from ds.Start equal double-groupby-all on the raw
// table (same rows, means within 1e-9 relative), and returns double-groupby-all asked
// of the rollup instead. Called again on the same e, it runs the invocations again
// (replacing their rows) and checks again.
func rollupQuery(ctx context.Context, e *env, ds DataSet) (query, error) {
	if err := createRollup(ctx, e); err != nil {
		return query{}, err
	}
	first := ds.Start.Truncate(time.Hour).Add(time.Hour)
	for at := first; at.Before(ds.End.Add(time.Hour)); at = at.Add(time.Hour) {
		run, err := e.svc.RunScheduledQuery(ctx, rollupName, at)
		switch {
		case err != nil:
			return query{}, fmt.Errorf("rollup at %s: %w", at, err)
		case run.Failed():
			return query{}, fmt.Errorf("rollup at %s: %s", at, run.Error)
		case run.RowsRejected > 0:
			return query{}, fmt.Errorf("rollup at %s: %d rows rejected: %s", at, run.RowsRejected, strings.Join(run.Rejections, "; "))
		}
	}
	// A run returns once its rows are queryable; Sync makes the wait explicit.
	if err := e.svc.Sync(Database, rollupTable); err != nil {
		return query{}, err
	}
	rollupSQL := func(from time.Time) string {
		means := make([]string, len(cpuMeasures))
		for i, m := range cpuMeasures {
			means[i] = "mean_" + m
		}
		return fmt.Sprintf("SELECT hostname, time AS hour, %s FROM bench.%s WHERE time >= %s AND time < %s ORDER BY hostname, hour",
			strings.Join(means, ", "), rollupTable, sqlTime(from), sqlTime(from.Add(12*time.Hour)))
	}
	if err := sameResult(ctx, e.eng, rollupSQL(ds.Start), rawDoubleGroupByAll(ds.Start)); err != nil {
		return query{}, fmt.Errorf("the rollup differs from the raw table: %w", err)
	}
	return query{
		name: "double-groupby-all (rollup)", desc: "mean of every metric per host per hour, 12 h, from the hourly rollup", targetMs: 20,
		sql: func(r *rand.Rand) string { return rollupSQL(randomWindow(r, ds, 12*time.Hour)) },
	}, nil
}

// createRollup creates bench.cpu_hourly, keeping rows in the memory tier as long as
// bench.cpu does and taking older ones into the magnetic tier, and the scheduled query
// that fills it; what exists already is kept.
func createRollup(ctx context.Context, e *env) error {
	yes := true
	_, err := e.svc.CreateTable(Database, rollupTable, tables.TableOptions{MemoryRetentionHours: &e.retention, MagneticWrites: &yes})
	if err != nil && apierr.CodeOf(err) != tables.CodeTableExists {
		return fmt.Errorf("create bench.%s: %w", rollupTable, err)
	}
	means := make([]string, len(cpuMeasures))
	for i, m := range cpuMeasures {
		means[i] = "avg(" + m + ") AS mean_" + m
	}
	q := "SELECT hostname, bin(time, INTERVAL 1 HOUR) AS time, " + strings.Join(means, ", ") +
		" FROM bench.cpu WHERE time >= @scheduled_runtime - INTERVAL 1 HOUR AND time < @scheduled_runtime" +
		" GROUP BY hostname, bin(time, INTERVAL 1 HOUR)"
	_, err = e.svc.CreateScheduledQuery(ctx, rollupName, tables.ScheduledQueryDefinition{
		Query: q, Schedule: "1h",
		Target: tables.ScheduledTarget{Database: Database, Table: rollupTable, Dimensions: []string{"hostname"}},
	})
	if err != nil && apierr.CodeOf(err) != tables.CodeScheduledQueryExists {
		return fmt.Errorf("create scheduled query %s: %w", rollupName, err)
	}
	return nil
}

// rawDoubleGroupByAll is double-groupby-all on bench.cpu for the 12 hours from from.
func rawDoubleGroupByAll(from time.Time) string {
	means := make([]string, len(cpuMeasures))
	for i, m := range cpuMeasures {
		means[i] = "avg(" + m + ") AS mean_" + m
	}
	return fmt.Sprintf("SELECT hostname, time_bucket(INTERVAL '1 hour', time) AS hour, %s "+
		"FROM bench.cpu WHERE time >= %s AND time < %s GROUP BY hostname, hour ORDER BY hostname, hour",
		strings.Join(means, ", "), sqlTime(from), sqlTime(from.Add(12*time.Hour)))
}

// sameResult runs a and b and reports the first difference between their rows: floats
// may differ by 1e-9 relative, other values not at all.
func sameResult(ctx context.Context, eng *eddysql.Engine, a, b string) error {
	x, err := allRows(ctx, eng, a)
	if err != nil {
		return err
	}
	y, err := allRows(ctx, eng, b)
	if err != nil {
		return err
	}
	if len(x) != len(y) || len(x) == 0 {
		return fmt.Errorf("%d rows against %d", len(x), len(y))
	}
	for i := range x {
		if len(x[i]) != len(y[i]) {
			return fmt.Errorf("row %d: %d columns against %d", i, len(x[i]), len(y[i]))
		}
		for j := range x[i] {
			if !sameValue(x[i][j], y[i][j]) {
				return fmt.Errorf("row %d column %d: %v against %v (rows %v and %v)", i, j, x[i][j], y[i][j], x[i], y[i])
			}
		}
	}
	return nil
}

func sameValue(a, b any) bool {
	fa, okA := a.(float64)
	fb, okB := b.(float64)
	if okA && okB {
		return fa == fb || math.Abs(fa-fb) <= 1e-9*math.Max(math.Abs(fa), math.Abs(fb))
	}
	return a == b
}

// allRows returns every row of stmt's result.
func allRows(ctx context.Context, eng *eddysql.Engine, stmt string) ([][]any, error) {
	res, err := eng.Query(ctx, stmt, eddysql.QueryOptions{PageSize: 10_000})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stmt, err)
	}
	rows := res.Rows
	for res.NextToken != "" {
		if res, err = eng.NextPage(ctx, res.NextToken); err != nil {
			return nil, err
		}
		rows = append(rows, res.Rows...)
	}
	return rows, nil
}
