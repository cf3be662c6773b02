package tablesbench

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/eddy-streams/eddy/internal/bench/tsbs"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

// plainTable is a baseline table: the same columns as the eddy table's memory tier
// (time, measure name, dimensions, measures), without eddy's version and sequence.
type plainTable struct {
	name     string
	dims     []string // in name order, as the generator gives them
	measures []string // in name order
	bigint   map[string]bool
}

// plainTables are the TSBS schemas: cpu's measures are all BIGINT, iot's DOUBLE but for
// status.
func plainTables(u UseCase) []plainTable {
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	if u == IoT {
		dims := []string{"device_version", "driver", "fleet", "fuel_capacity", "load_capacity", "model", "name", "nominal_fuel_consumption"}
		return []plainTable{
			{name: "readings", dims: dims, measures: sorted(readingsMeasures)},
			{name: "diagnostics", dims: dims, measures: sorted(diagnosticsMeasures), bigint: map[string]bool{"status": true}},
		}
	}
	all := map[string]bool{}
	for _, m := range cpuMeasures {
		all[m] = true
	}
	return []plainTable{{
		name:     "cpu",
		dims:     []string{"arch", "datacenter", "hostname", "os", "rack", "region", "service", "service_environment", "service_version", "team"},
		measures: sorted(cpuMeasures), bigint: all,
	}}
}

func (t *plainTable) create() string {
	cols := []string{"time TIMESTAMP_NS", "measure_name VARCHAR"}
	for _, d := range t.dims {
		cols = append(cols, d+" VARCHAR")
	}
	for _, m := range t.measures {
		typ := "DOUBLE"
		if t.bigint[m] {
			typ = "BIGINT"
		}
		cols = append(cols, m+" "+typ)
	}
	return "CREATE TABLE " + t.name + " (" + strings.Join(cols, ", ") + ")"
}

// fill sets row to rec's values in t's column order: a merge of rec's dimensions and
// measures, both in name order, with t's columns; nil where rec has none.
func (t *plainTable) fill(row []driver.Value, rec *tables.Record) error {
	clear(row)
	row[0] = time.UnixMilli(rec.Time).UTC()
	row[1] = rec.MeasureName
	j := 0
	for _, d := range rec.Dimensions {
		for j < len(t.dims) && t.dims[j] != d.Name {
			j++
		}
		if j == len(t.dims) {
			return fmt.Errorf("dimension %q is not a column of %s", d.Name, t.name)
		}
		row[2+j] = d.Value
	}
	base := 2 + len(t.dims)
	j = 0
	for _, m := range rec.Measures {
		for j < len(t.measures) && t.measures[j] != m.Name {
			j++
		}
		if j == len(t.measures) {
			return fmt.Errorf("measure %q is not a column of %s", m.Name, t.name)
		}
		if m.Value.Type == tables.BigInt {
			row[base+j] = m.Value.I
		} else {
			row[base+j] = m.Value.F
		}
	}
	return nil
}

// baselineRun is one timed load of the data set into plain DuckDB tables of a fresh
// in-memory DuckDB, one Appender per loader and table, each on its own connection, until
// Duration or the end of the data set and the appenders' final flush.
func (b *bench) baselineRun(ctx context.Context, u UseCase, tcfg tsbs.Config, n int) (IngestRun, error) {
	eng, err := eddysql.Open(eddysql.Options{})
	if err != nil {
		return IngestRun{}, err
	}
	defer eng.Close()
	pts := plainTables(u)
	for _, t := range pts {
		if _, err := eng.DB().ExecContext(ctx, t.create()); err != nil {
			return IngestRun{}, fmt.Errorf("create baseline table: %w", err)
		}
	}
	ls, err := b.newLoaders(u, tcfg, n)
	if err != nil {
		return IngestRun{}, err
	}
	errs := make([]error, n)
	exhausted := make([]bool, n)
	start := time.Now()
	deadline := start.Add(b.cfg.Duration)
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { exhausted[i], errs[i] = l.appendAll(ctx, eng.DB(), pts, deadline) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return IngestRun{}, fmt.Errorf("baseline: %w", err)
		}
	}
	r := IngestRun{Exhausted: !slices.Contains(exhausted, false)}
	for _, l := range ls {
		st := l.gen.Stats()
		r.Rows += st.Rows
		r.Values += st.Values
	}
	r.setRates(elapsed, elapsed)
	return r, nil
}

// appendAll appends the loader's records through one Appender per table until deadline
// or the end of its split, and closes the appenders (their last flush is timed).
func (l *loader) appendAll(ctx context.Context, db *dbsql.DB, pts []plainTable, deadline time.Time) (exhausted bool, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	apps := make(map[string]*duckdb.Appender, len(pts))
	defer func() {
		for _, a := range apps {
			if cerr := a.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
	}()
	err = conn.Raw(func(dc any) error {
		for _, t := range pts {
			a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", t.name)
			if err != nil {
				return fmt.Errorf("appender of %s: %w", t.name, err)
			}
			apps[t.name] = a
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	byName := make(map[string]*plainTable, len(pts))
	width := 0
	for i := range pts {
		byName[pts[i].name] = &pts[i]
		width = max(width, 2+len(pts[i].dims)+len(pts[i].measures))
	}
	row := make([]driver.Value, width)
	for ctx.Err() == nil {
		if !time.Now().Before(deadline) {
			return false, nil
		}
		n, table := l.gen.Next(l.batch)
		if n == 0 {
			return true, nil
		}
		t, a := byName[table], apps[table]
		cols := row[:2+len(t.dims)+len(t.measures)]
		for i := range l.batch[:n] {
			if err := t.fill(cols, &l.batch[i]); err != nil {
				return false, err
			}
			if err := a.AppendRow(cols...); err != nil {
				return false, fmt.Errorf("append to %s: %w", table, err)
			}
		}
	}
	return false, ctx.Err()
}
