package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// MemorySchema is the internal DuckDB schema holding the memory tier's tables, two per
// eddy table (see TableSchema.memoryTable). Users query the views, never these.
const MemorySchema = "_eddy_mem"

// The columns every memory table and magnetic file has besides the dimensions and
// measures. version and seq are internal: version resolves upserts; seq is the order in
// which the memory tier accepted the row, so a move to the magnetic tier can take exactly
// the rows it exported. sid numbers a series (measure name and dimensions) in the memory
// tier, whose rows carry it instead of the dimensions' strings.
const (
	ColTime        = "time"
	ColMeasureName = "measure_name"
	ColVersion     = "_version"
	ColSeq         = "_seq"
	ColSeries      = "_sid"
)

// TableSchema is what the engine knows of an eddy table: its learned dimensions and
// measures, each in the order rows give their values. The orders only grow at the end,
// so rows built before a column was learned stay aligned.
type TableSchema struct {
	Database, Table string
	Dimensions      []string
	Measures        []Measure
}

// Measure is a measure column with the name of its type (double, bigint, varchar,
// boolean, timestamp).
type Measure struct{ Name, Type string }

func sqlType(t string) (string, error) {
	switch t {
	case "double":
		return "DOUBLE", nil
	case "bigint":
		return "BIGINT", nil
	case "varchar":
		return "VARCHAR", nil
	case "boolean":
		return "BOOLEAN", nil
	case "timestamp":
		return "TIMESTAMP_NS", nil
	}
	return "", fmt.Errorf("unknown measure type %q", t)
}

// columns returns the table's logical columns in order with their SQL types: what the
// view shows (without the internal ones) and what a magnetic file holds.
func (s TableSchema) columns() ([][2]string, error) {
	cols := [][2]string{{ColTime, "TIMESTAMP_NS"}, {ColMeasureName, "VARCHAR"}, {ColVersion, "BIGINT"}, {ColSeq, "UBIGINT"}}
	for _, d := range s.Dimensions {
		cols = append(cols, [2]string{d, "VARCHAR"})
	}
	return s.appendMeasures(cols)
}

// memoryColumns are the memory table's physical columns.
func (s TableSchema) memoryColumns() ([][2]string, error) {
	return s.appendMeasures([][2]string{{ColTime, "TIMESTAMP_NS"}, {ColSeries, "UINTEGER"}, {ColVersion, "BIGINT"}, {ColSeq, "UBIGINT"}})
}

// appendMeasures appends the measure columns with their SQL types.
func (s TableSchema) appendMeasures(cols [][2]string) ([][2]string, error) {
	for _, m := range s.Measures {
		t, err := sqlType(m.Type)
		if err != nil {
			return nil, fmt.Errorf("measure %q: %w", m.Name, err)
		}
		cols = append(cols, [2]string{m.Name, t})
	}
	return cols, nil
}

// seriesColumns are the series table's columns.
func (s TableSchema) seriesColumns() [][2]string {
	cols := [][2]string{{ColSeries, "UINTEGER"}, {ColMeasureName, "VARCHAR"}}
	for _, d := range s.Dimensions {
		cols = append(cols, [2]string{d, "VARCHAR"})
	}
	return cols
}

// memoryTable and seriesTable are the names of the memory tier's tables in
// MemorySchema: "<database>/<table>" and "<database>/<table>#series" ('/' and '#' are in
// no database or table name, so two tables never share them).
func (s TableSchema) memoryTable() string { return s.Database + "/" + s.Table }
func (s TableSchema) seriesTable() string { return s.Database + "/" + s.Table + "#series" }

// memoryName is the memory table's qualified name.
func (s TableSchema) memoryName() string {
	return QuoteIdent(MemorySchema) + "." + QuoteIdent(s.memoryTable())
}

// seriesName is the qualified name of the memory tier's series table.
func (s TableSchema) seriesName() string {
	return QuoteIdent(MemorySchema) + "." + QuoteIdent(s.seriesTable())
}

// memoryRelation is the memory tier with its logical columns: the rows joined to their
// series.
func (s TableSchema) memoryRelation() string { return s.rowsRelation(s.memoryName()) }

// rowsRelation is memoryRelation over rows, a table with the memory table's columns.
func (s TableSchema) rowsRelation(rows string) string {
	sel := []string{"m." + QuoteIdent(ColTime), "s." + QuoteIdent(ColMeasureName), "m." + QuoteIdent(ColVersion), "m." + QuoteIdent(ColSeq)}
	for _, d := range s.Dimensions {
		sel = append(sel, "s."+QuoteIdent(d))
	}
	for _, m := range s.Measures {
		sel = append(sel, "m."+QuoteIdent(m.Name))
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM " + rows + " m JOIN " + s.seriesName() +
		" s ON m." + QuoteIdent(ColSeries) + " = s." + QuoteIdent(ColSeries) + ")"
}

// memorySelect is the view's memory part: the columns the view shows, in its order,
// selected straight from the rows joined to their series. Unlike selecting them from
// memoryRelation, it leaves DuckDB no inner projection to bind on every query of the
// view (about 0.2 ms of each one-host query's planning).
func (s TableSchema) memorySelect() string {
	sel := []string{"m." + QuoteIdent(ColTime), "s." + QuoteIdent(ColMeasureName)}
	for _, d := range s.Dimensions {
		sel = append(sel, "s."+QuoteIdent(d))
	}
	for _, m := range s.Measures {
		sel = append(sel, "m."+QuoteIdent(m.Name))
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + s.memoryName() + " m JOIN " + s.seriesName() +
		" s ON m." + QuoteIdent(ColSeries) + " = s." + QuoteIdent(ColSeries)
}

// viewName is the user-facing view's qualified name.
func (s TableSchema) viewName() string { return QuoteIdent(s.Database) + "." + QuoteIdent(s.Table) }

// MemoryTable is the memory tier of one table inside DuckDB — a table of rows and a
// table of the series they belong to — with the appenders that fill them. It is not
// safe for concurrent use: one goroutine publishes into it.
type MemoryTable struct {
	e          *Engine
	conn       *dbsql.Conn
	schema     TableSchema
	cols       [][2]string // the memory table's physical columns
	seriesCols [][2]string
	lastCols   [][2]string // the last table's (see LastSuffix)
	app        *duckdb.Appender
	seriesApp  *duckdb.Appender
	stageApp   *duckdb.Appender // into the last points' staging table (see MergeLast)
	row        []driver.Value
	seriesRow  []driver.Value
}

// OpenMemoryTable creates the table's memory tables (or widens them to schema) and the
// view users query, and returns the memory table ready for appends. magnetic is the
// magnetic tier's current files (see Magnetic).
func (e *Engine) OpenMemoryTable(ctx context.Context, schema TableSchema, magnetic Magnetic) (*MemoryTable, error) {
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("memory table %s.%s: %w", schema.Database, schema.Table, err)
	}
	m := &MemoryTable{e: e, conn: conn}
	if _, err := conn.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+QuoteIdent(MemorySchema)); err != nil {
		conn.Close()
		return nil, err
	}
	if err := m.Evolve(ctx, schema, magnetic); err != nil {
		conn.Close()
		return nil, err
	}
	return m, nil
}

// widen creates table name with cols, or adds the columns of cols it lacks.
func (m *MemoryTable) widen(ctx context.Context, name string, have, cols [][2]string) error {
	if have == nil {
		var defs []string
		for _, c := range cols {
			defs = append(defs, QuoteIdent(c[0])+" "+c[1])
		}
		if _, err := m.conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create memory table %s: %w", name, err)
		}
		return nil
	}
	for _, c := range cols {
		if slices.ContainsFunc(have, func(h [2]string) bool { return h[0] == c[0] }) {
			continue
		}
		if _, err := m.conn.ExecContext(ctx, "ALTER TABLE "+name+" ADD COLUMN "+QuoteIdent(c[0])+" "+c[1]); err != nil {
			return fmt.Errorf("widen memory table %s: %w", name, err)
		}
	}
	return nil
}

// Evolve widens the memory tables to schema's columns (new columns only: a learned
// column is never dropped or retyped) and redefines the view.
func (m *MemoryTable) Evolve(ctx context.Context, schema TableSchema, magnetic Magnetic) error {
	cols, err := schema.memoryColumns()
	if err != nil {
		return err
	}
	seriesCols := schema.seriesColumns()
	lastCols, err := schema.lastColumns()
	if err != nil {
		return err
	}
	if err := m.closeAppenders(); err != nil {
		return err
	}
	if err := m.widen(ctx, schema.memoryName(), m.cols, cols); err != nil {
		return err
	}
	if err := m.widen(ctx, schema.seriesName(), m.seriesCols, seriesCols); err != nil {
		return err
	}
	if err := m.widen(ctx, schema.lastName(), m.lastCols, lastCols); err != nil {
		return err
	}
	if err := m.widen(ctx, schema.stageName(), m.cols, cols); err != nil {
		return err
	}
	m.schema, m.cols, m.seriesCols, m.lastCols = schema, cols, seriesCols, lastCols
	m.row = make([]driver.Value, len(cols))
	m.seriesRow = make([]driver.Value, len(seriesCols))
	if err := m.defineView(ctx, m.conn, magnetic); err != nil {
		return err
	}
	lastView, err := schema.lastViewSQL()
	if err != nil {
		return err
	}
	if _, err := m.conn.ExecContext(ctx, lastView); err != nil {
		return fmt.Errorf("define view %s: %w", schema.LastViewName(), err)
	}
	return m.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", MemorySchema, schema.memoryTable(), names(cols))
		if err != nil {
			return fmt.Errorf("appender for %s: %w", schema.memoryName(), err)
		}
		sapp, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", MemorySchema, schema.seriesTable(), names(seriesCols))
		if err != nil {
			app.Close()
			return fmt.Errorf("appender for %s: %w", schema.seriesName(), err)
		}
		stapp, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", MemorySchema, schema.stageTable(), names(cols))
		if err != nil {
			app.Close()
			sapp.Close()
			return fmt.Errorf("appender for %s: %w", schema.stageName(), err)
		}
		m.app, m.seriesApp, m.stageApp = app, sapp, stapp
		return nil
	})
}

func names(cols [][2]string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c[0]
	}
	return out
}

// Series is a series to add to the memory tier before rows that refer to it.
type Series struct {
	ID          uint32
	MeasureName string
	// Dimensions holds one value per dimension of the schema, in its order (fewer if the
	// series was built before later dimensions were learned); "" for none.
	Dimensions []string
}

// Row is one row to append.
type Row struct {
	Time    int64 // nanoseconds since the epoch
	Series  uint32
	Version int64
	Seq     uint64
	// Values holds one entry per measure of the schema, in its order (fewer if the row
	// was built before later measures were learned): float64, int64, string, bool or
	// time.Time; nil where the row has none.
	Values []any
}

// errNoAppender is the state after a schema change failed half-way: the memory table
// takes no more rows until the table is opened again.
func (m *MemoryTable) errNoAppender() error {
	return fmt.Errorf("memory table %s is unavailable after a failed schema change", m.schema.memoryName())
}

// AppendSeries adds series to the appender's buffer.
func (m *MemoryTable) AppendSeries(series []Series) error {
	if m.seriesApp == nil {
		return m.errNoAppender()
	}
	for i := range series {
		s := &series[i]
		m.seriesRow[0] = s.ID
		m.seriesRow[1] = s.MeasureName
		for j := range m.seriesRow[2:] {
			if j < len(s.Dimensions) && s.Dimensions[j] != "" {
				m.seriesRow[2+j] = s.Dimensions[j]
			} else {
				m.seriesRow[2+j] = nil
			}
		}
		if err := m.seriesApp.AppendRow(m.seriesRow...); err != nil {
			return fmt.Errorf("append to %s: %w", m.schema.seriesName(), err)
		}
	}
	return nil
}

// Append adds rows to the appender's buffer; Flush makes them visible.
func (m *MemoryTable) Append(rows []Row) error {
	if m.app == nil {
		return m.errNoAppender()
	}
	for i := range rows {
		m.fill(&rows[i])
		if err := m.app.AppendRow(m.row...); err != nil {
			return fmt.Errorf("append to %s: %w", m.schema.memoryName(), err)
		}
	}
	return nil
}

// fill sets m.row to r's values in column order.
func (m *MemoryTable) fill(r *Row) {
	m.row[0] = time.Unix(0, r.Time).UTC()
	m.row[1] = r.Series
	m.row[2] = r.Version
	m.row[3] = r.Seq
	for j := range m.row[4:] {
		if j < len(r.Values) {
			m.row[4+j] = r.Values[j]
		} else {
			m.row[4+j] = nil
		}
	}
}

// Flush makes every appended row visible to queries: the series first, so that a row
// is never visible without its series.
func (m *MemoryTable) Flush() error {
	if m.app == nil || m.seriesApp == nil {
		return m.errNoAppender()
	}
	if err := m.seriesApp.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", m.schema.seriesName(), err)
	}
	if err := m.app.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", m.schema.memoryName(), err)
	}
	return nil
}

// Replace deletes the rows with the given seqs and inserts rows in their place, in one
// transaction, so that a query sees either the old values or the new ones, never both.
// It is for upserts, which are rare; new identities go through Append.
func (m *MemoryTable) Replace(ctx context.Context, seqs []uint64, rows []Row) error {
	if err := m.Flush(); err != nil {
		return err
	}
	tx, err := m.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replace in %s: %w", m.schema.memoryName(), err)
	}
	defer tx.Rollback()
	if len(seqs) > 0 {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+m.schema.memoryName()+" WHERE "+QuoteIdent(ColSeq)+" IN ("+joinUints(seqs)+")"); err != nil {
			return fmt.Errorf("replace in %s: %w", m.schema.memoryName(), err)
		}
	}
	if len(rows) > 0 {
		marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(m.cols)), ", ") + ")"
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+m.schema.memoryName()+" ("+quoteJoin(names(m.cols))+") VALUES "+marks)
		if err != nil {
			return fmt.Errorf("replace in %s: %w", m.schema.memoryName(), err)
		}
		defer stmt.Close()
		args := make([]any, len(m.cols))
		for i := range rows {
			m.fill(&rows[i])
			for j, v := range m.row {
				args[j] = v
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("replace in %s: %w", m.schema.memoryName(), err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace in %s: %w", m.schema.memoryName(), err)
	}
	return nil
}

func (m *MemoryTable) closeAppenders() error {
	var err error
	if m.stageApp != nil {
		err = m.stageApp.Close()
		m.stageApp = nil
	}
	if m.seriesApp != nil {
		if cerr := m.seriesApp.Close(); err == nil {
			err = cerr
		}
		m.seriesApp = nil
	}
	if m.app != nil {
		if cerr := m.app.Close(); err == nil {
			err = cerr
		}
		m.app = nil
	}
	if err != nil {
		return fmt.Errorf("close appenders of %s: %w", m.schema.memoryName(), err)
	}
	return nil
}

// Close flushes and closes the appender and the connection.
func (m *MemoryTable) Close() error {
	err := m.closeAppenders()
	if cerr := m.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

func joinUints(v []uint64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	return b.String()
}

func quoteJoin(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}
