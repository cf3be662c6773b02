package tables

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
)

// selectKeywords are the first keywords of the statements a scheduled query may be:
// those that produce rows from tables (SHOW, DESCRIBE and EXPLAIN describe rather than
// compute, so they are refused).
var selectKeywords = map[string]bool{"SELECT": true, "WITH": true, "FROM": true, "VALUES": true, "TABLE": true, "PIVOT": true, "UNPIVOT": true}

var positionPattern = regexp.MustCompile(`\(at character (\d+)\)`)

var runtimePattern = regexp.MustCompile(`(?i)` + regexp.QuoteMeta(ScheduledRuntime) + `\b`)

// withRuntime returns q with every @scheduled_runtime replaced by at as a TIMESTAMP
// literal (microseconds, DuckDB's TIMESTAMP precision).
func withRuntime(q string, at time.Time) string {
	lit := "TIMESTAMP '" + at.UTC().Format("2006-01-02 15:04:05.999999") + "'"
	return runtimePattern.ReplaceAllLiteralString(q, lit)
}

// firstKeyword returns the word q starts with, after white space, comments and opening
// parentheses, in upper case.
func firstKeyword(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return ""
			}
			q = q[i+1:]
			continue
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return ""
			}
			q = q[i+2:]
			continue
		}
		break
	}
	i := strings.IndexFunc(q, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_') })
	if i < 0 {
		i = len(q)
	}
	return strings.ToUpper(q[:i])
}

// checkScheduledQuery checks q's query, target table and columns: the query is
// described at the latest invocation time, not run.
func (s *Service) checkScheduledQuery(ctx context.Context, q storedScheduledQuery) error {
	kw := firstKeyword(q.Query)
	switch {
	case kw == "":
		return apierr.New(apierr.Invalid, CodeInvalidQuery, "query: the query is empty; give a SELECT whose rows are written to the target table")
	case !selectKeywords[kw]:
		return apierr.New(apierr.Invalid, CodeInvalidQuery, "query: a scheduled query is a SELECT (or WITH, FROM, VALUES), not %s", kw)
	}
	t := q.Target
	if t.Database == "" || t.Table == "" {
		return apierr.New(apierr.Invalid, CodeInvalidTarget, "target: give the database and the table the rows are written to")
	}
	if _, err := s.Catalog.DescribeTable(t.Database, t.Table); err != nil {
		if e, ok := apierr.As(err); ok {
			return apierr.New(apierr.Invalid, CodeInvalidTarget, "target: %s; create the target table first", e.Message)
		}
		return err
	}
	if t.MeasureName != "" {
		if why := checkColumnName(t.MeasureName, MaxMeasureNameLen); why != "" {
			return apierr.New(apierr.Invalid, CodeInvalidTarget, "target.measureName %q: %s", t.MeasureName, why)
		}
	}
	every, err := parseSchedule(q.Schedule)
	if err != nil {
		return err
	}
	stmt := strings.TrimRight(strings.TrimSpace(withRuntime(q.Query, alignDown(s.now(), every))), ";")
	const describe = "DESCRIBE "
	res, err := s.engine.Query(ctx, describe+stmt, eddysql.QueryOptions{PageSize: MaxColumnsPerTable + 2})
	if err != nil {
		if e, ok := apierr.As(err); ok && e.Kind == apierr.Invalid {
			// The position of a syntax error in the query, not in the DESCRIBE around it.
			msg := positionPattern.ReplaceAllStringFunc(e.Message, func(m string) string {
				n, _ := strconv.Atoi(positionPattern.FindStringSubmatch(m)[1])
				return fmt.Sprintf("(at character %d)", max(n-len(describe), 0))
			})
			return apierr.New(apierr.Invalid, CodeInvalidQuery, "query: %s", msg)
		}
		return fmt.Errorf("describe the query's result: %w", err)
	}
	if res.NextToken != "" {
		_ = s.engine.Cancel(res.QueryID)
		return apierr.New(apierr.Invalid, CodeInvalidQuery, "query: the result has more than %d columns", MaxColumnsPerTable)
	}
	cols := make([]eddysql.ResultColumn, 0, len(res.Rows))
	for _, r := range res.Rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		cols = append(cols, eddysql.ResultColumn{Name: name, Type: typ})
	}
	_, err = planRecords(cols, q)
	return err
}

// recordPlan says how a result row becomes a record.
type recordPlan struct {
	measureName string
	time        int
	dims        []planColumn
	measures    []planColumn
}

type planColumn struct {
	index int
	name  string
	typ   ColumnType
}

// planRecords maps the result columns cols onto a record of q's target: the time
// column, the dimensions, every other column a measure typed from its column's type.
func planRecords(cols []eddysql.ResultColumn, q storedScheduledQuery) (recordPlan, error) {
	t := q.Target
	p := recordPlan{measureName: t.MeasureName, time: -1}
	if p.measureName == "" {
		p.measureName = q.Name
	}
	seen := map[string]bool{}
	for i, c := range cols {
		lower := strings.ToLower(c.Name)
		if seen[lower] {
			return p, apierr.New(apierr.Invalid, CodeInvalidQuery, "query: the result has two columns named %q; give each column its own name with AS", c.Name)
		}
		seen[lower] = true
		if c.Name == t.TimeColumn {
			if !strings.HasPrefix(c.Type, "TIMESTAMP") {
				return p, apierr.New(apierr.Invalid, CodeInvalidTimeColumn, "target.timeColumn %q: the column is %s, not a TIMESTAMP", c.Name, c.Type)
			}
			p.time = i
		}
	}
	if p.time < 0 {
		return p, apierr.New(apierr.Invalid, CodeInvalidTimeColumn, "target.timeColumn %q: the query's result has no such column (it has %s); name the time column with AS", t.TimeColumn, columnNames(cols))
	}
	isDim := map[string]bool{}
	if t.Dimensions == nil {
		for _, c := range cols {
			if c.Type == "VARCHAR" && c.Name != t.TimeColumn {
				isDim[c.Name] = true
			}
		}
	} else {
		for _, d := range t.Dimensions {
			i := indexOfColumn(cols, d)
			switch {
			case i < 0:
				return p, apierr.New(apierr.Invalid, CodeInvalidTarget, "target.dimensions: the query's result has no column %q (it has %s)", d, columnNames(cols))
			case d == t.TimeColumn:
				return p, apierr.New(apierr.Invalid, CodeInvalidTarget, "target.dimensions: %q is the time column", d)
			case cols[i].Type != "VARCHAR":
				return p, apierr.New(apierr.Invalid, CodeInvalidTarget, "target.dimensions: column %q is %s; a dimension is a VARCHAR (cast it)", d, cols[i].Type)
			}
			isDim[d] = true
		}
	}
	for i, c := range cols {
		if i == p.time {
			continue
		}
		if isDim[c.Name] {
			if why := checkColumnName(c.Name, MaxDimensionNameLen); why != "" {
				return p, apierr.New(apierr.Invalid, CodeInvalidQuery, "query: column %q cannot name a dimension: %s; rename it with AS", c.Name, why)
			}
			p.dims = append(p.dims, planColumn{index: i, name: c.Name})
			continue
		}
		typ, ok := measureType(c.Type)
		if !ok {
			return p, apierr.New(apierr.Invalid, CodeInvalidColumnType, "query: column %q is %s, which no measure type holds (double, bigint, varchar, boolean, timestamp); cast it", c.Name, c.Type)
		}
		if why := checkColumnName(c.Name, MaxMeasureNameLen); why != "" {
			return p, apierr.New(apierr.Invalid, CodeInvalidQuery, "query: column %q cannot name a measure: %s; rename it with AS", c.Name, why)
		}
		p.measures = append(p.measures, planColumn{index: i, name: c.Name, typ: typ})
	}
	switch {
	case len(p.measures) == 0:
		return p, apierr.New(apierr.Invalid, CodeInvalidTarget, "query: the result has no measure column besides the time column and the dimensions (%s)", columnNames(cols))
	case len(p.measures) > MaxMeasuresPerRecord:
		return p, apierr.New(apierr.Invalid, CodeInvalidQuery, "query: the result has %d measure columns; a record holds at most %d", len(p.measures), MaxMeasuresPerRecord)
	case len(p.dims) > MaxDimensions:
		return p, apierr.New(apierr.Invalid, CodeInvalidTarget, "target.dimensions: %d dimensions; a record has at most %d", len(p.dims), MaxDimensions)
	}
	return p, nil
}

func indexOfColumn(cols []eddysql.ResultColumn, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func columnNames(cols []eddysql.ResultColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strconv.Quote(c.Name) + " " + c.Type
	}
	return strings.Join(names, ", ")
}

// measureType is the measure type of a result column of DuckDB type typ.
func measureType(typ string) (ColumnType, bool) {
	switch {
	case typ == "DOUBLE" || typ == "FLOAT" || strings.HasPrefix(typ, "DECIMAL"):
		return Double, true
	case typ == "TINYINT" || typ == "SMALLINT" || typ == "INTEGER" || typ == "BIGINT" || typ == "HUGEINT" ||
		typ == "UTINYINT" || typ == "USMALLINT" || typ == "UINTEGER" || typ == "UBIGINT" || typ == "UHUGEINT":
		return BigInt, true
	case typ == "VARCHAR":
		return Varchar, true
	case typ == "BOOLEAN":
		return Boolean, true
	case strings.HasPrefix(typ, "TIMESTAMP"):
		return Timestamp, true
	}
	return "", false
}

// record turns a result row into a record. skip is true for a row without a time or
// without a non-null measure; err says why a value cannot be stored.
func (p *recordPlan) record(row []any, version int64) (rec Record, skip bool, err error) {
	if row[p.time] == nil {
		return rec, true, nil
	}
	at, err := timeValue(row[p.time])
	if err != nil {
		return rec, false, err
	}
	rec = Record{Time: at.UnixNano(), TimeUnit: Nanoseconds, MeasureName: p.measureName, Version: version}
	for _, d := range p.dims {
		if v, ok := row[d.index].(string); ok {
			rec.Dimensions = append(rec.Dimensions, Dimension{Name: d.name, Value: v})
		}
	}
	rec.Measures = make([]Measure, 0, len(p.measures))
	for _, m := range p.measures {
		if row[m.index] == nil {
			continue
		}
		v, err := measureValue(m.typ, row[m.index])
		if err != nil {
			return rec, false, fmt.Errorf("column %q: %w", m.name, err)
		}
		rec.Measures = append(rec.Measures, Measure{Name: m.name, Value: v})
	}
	return rec, len(rec.Measures) == 0, nil
}

func timeValue(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("time %v is not a timestamp", v)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t, nil
}

// measureValue converts a JSON-ready value of the engine's results (see
// eddysql.Result.Rows) to a measure value of type typ.
func measureValue(typ ColumnType, v any) (Value, error) {
	switch typ {
	case Double:
		switch x := v.(type) {
		case float64:
			return DoubleValue(x), nil
		case int64:
			return DoubleValue(float64(x)), nil
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			return DoubleValue(f), err
		case string: // NaN and the infinities, which the write path refuses
			f, err := strconv.ParseFloat(x, 64)
			return DoubleValue(f), err
		}
	case BigInt:
		switch x := v.(type) {
		case int64:
			return BigIntValue(x), nil
		case string:
			i, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return Value{}, fmt.Errorf("%s does not fit in a bigint", x)
			}
			return BigIntValue(i), nil
		}
	case Varchar:
		if s, ok := v.(string); ok {
			return VarcharValue(s), nil
		}
	case Boolean:
		if b, ok := v.(bool); ok {
			return BooleanValue(b), nil
		}
	case Timestamp:
		t, err := timeValue(v)
		if err != nil {
			return Value{}, err
		}
		return TimestampValue(t), nil
	}
	return Value{}, fmt.Errorf("value %v is not a %s", v, typ)
}

// runInvocation runs one invocation of e and records its outcome in e's status. It
// never panics: a panic is recorded as the run's error.
func (s *Service) runInvocation(ctx context.Context, e *scheduledEntry, at time.Time, manual bool) ScheduledRun {
	e.run.Lock()
	defer e.run.Unlock()
	sc := s.sched
	sc.mu.Lock()
	def := e.def
	now := s.now()
	// The wall clock in milliseconds, so a re-run replaces what an earlier run wrote; one
	// more than the last if the clock has not moved on.
	version := max(now.UnixMilli(), e.lastVersion+1)
	e.lastVersion = version
	sc.mu.Unlock()

	run := ScheduledRun{InvocationTime: at.UTC(), Manual: manual, StartedAt: now.Round(0).UTC(), Version: version}
	start := time.Now()
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("tables: scheduled query run panicked", "scheduledQuery", def.Name, "panic", p, "stack", string(debug.Stack()))
				run.Error = fmt.Sprintf("internal failure: %v", p)
			}
		}()
		if err := s.execute(ctx, def, &run); err != nil {
			run.Error = err.Error()
		}
	}()
	run.Duration = time.Since(start)
	s.metrics.scheduledRuns.Add(1)
	s.metrics.scheduledRows.Add(run.RowsWritten)
	if run.Failed() {
		s.metrics.scheduledFailures.Add(1)
	}

	sc.mu.Lock()
	if sc.queries[def.Name] == e {
		e.def.Status.LastRun = storeRun(run)
		if err := sc.saveLocked(); err != nil {
			s.log.Error("tables: a scheduled query's run status not saved", "scheduledQuery", def.Name, "err", err)
		}
	}
	sc.mu.Unlock()
	if run.Failed() {
		s.log.Warn("tables: scheduled query run failed; the next invocation runs as scheduled", "scheduledQuery", def.Name,
			"invocationTime", run.InvocationTime, "err", run.Error)
	}
	return run
}

// execute runs def's query at run.InvocationTime and writes its rows to the target
// table in writes of up to MaxRecordsPerWrite records, counting what happened in run.
func (s *Service) execute(ctx context.Context, def storedScheduledQuery, run *ScheduledRun) error {
	t := def.Target
	if _, err := s.Catalog.DescribeTable(t.Database, t.Table); err != nil {
		return fmt.Errorf("target table %s.%s: %w", t.Database, t.Table, err)
	}
	res, err := s.engine.Query(ctx, withRuntime(def.Query, run.InvocationTime), eddysql.QueryOptions{PageSize: MaxRecordsPerWrite})
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	// An open result is dropped if the run stops before reading it to its end.
	defer func() {
		if res.NextToken != "" {
			_ = s.engine.Cancel(res.QueryID)
		}
	}()
	plan, err := planRecords(res.Columns, def)
	if err != nil {
		return err
	}
	var (
		batch []Record
		rows  []int64 // the result row of each record of batch, for the rejections
		n     int64   // result rows so far
	)
	reject := func(row int64, reason string) {
		run.RowsRejected++
		if len(run.Rejections) < maxRejections {
			run.Rejections = append(run.Rejections, fmt.Sprintf("row %d: %s", row, reason))
		}
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		w, err := s.Write(ctx, t.Database, t.Table, &WriteRequest{Records: batch})
		if err != nil {
			return fmt.Errorf("write to %s.%s: %w", t.Database, t.Table, err)
		}
		run.RowsWritten += int64(w.Memory + w.Magnetic + w.Unchanged)
		for _, r := range w.Rejected {
			reject(rows[r.Index], r.Code+": "+r.Reason)
		}
		// The write path may keep the records' slices; the next batch gets its own.
		batch, rows = nil, nil
		return nil
	}
	for {
		for _, row := range res.Rows {
			n++
			rec, skip, err := plan.record(row, run.Version)
			switch {
			case err != nil:
				reject(n, err.Error())
				continue
			case skip:
				run.RowsSkipped++
				continue
			}
			batch, rows = append(batch, rec), append(rows, n)
			if len(batch) == MaxRecordsPerWrite {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if res.NextToken == "" {
			break
		}
		next, err := s.engine.NextPage(ctx, res.NextToken)
		if err != nil {
			return fmt.Errorf("query: read the result: %w", err)
		}
		res = next
	}
	if err := flush(); err != nil {
		return err
	}
	if err := s.Sync(t.Database, t.Table); err != nil {
		return fmt.Errorf("wait for %s.%s's rows to be queryable: %w", t.Database, t.Table, err)
	}
	return nil
}
