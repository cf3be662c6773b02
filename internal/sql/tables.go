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

// MemorySchema is the internal DuckDB schema holding the memory tier's tables, one per
// eddy table, named "<database>.<table>". Users query the views, never these.
const MemorySchema = "_eddy_mem"

// The columns every memory table and magnetic file has besides the dimensions and
// measures. version and seq are internal: version resolves upserts; seq is the order in
// which the memory tier accepted the row, so a move to the magnetic tier can take exactly
// the rows it exported.
const (
	ColTime        = "time"
	ColMeasureName = "measure_name"
	ColVersion     = "_version"
	ColSeq         = "_seq"
)

// TableSchema is what the engine knows of an eddy table: its learned columns, in the
// order rows give their values. The order only grows at the end, so rows built before a
// column was learned stay aligned.
type TableSchema struct {
	Database, Table string
	Columns         []Column
}

// Column is a dimension, or a measure with the name of its type (double, bigint,
// varchar, boolean, timestamp).
type Column struct {
	Name      string
	Dimension bool
	Type      string
}

// dimensions returns the names of the dimension columns.
func (s TableSchema) dimensions() []string {
	var out []string
	for _, c := range s.Columns {
		if c.Dimension {
			out = append(out, c.Name)
		}
	}
	return out
}

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

// columns returns the memory table's columns in order with their SQL types.
func (s TableSchema) columns() ([][2]string, error) {
	cols := [][2]string{{ColTime, "TIMESTAMP_NS"}, {ColMeasureName, "VARCHAR"}, {ColVersion, "BIGINT"}, {ColSeq, "UBIGINT"}}
	for _, c := range s.Columns {
		if c.Dimension {
			cols = append(cols, [2]string{c.Name, "VARCHAR"})
			continue
		}
		t, err := sqlType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("measure %q: %w", c.Name, err)
		}
		cols = append(cols, [2]string{c.Name, t})
	}
	return cols, nil
}

// memoryName is the memory table's qualified name.
func (s TableSchema) memoryName() string {
	return QuoteIdent(MemorySchema) + "." + QuoteIdent(s.Database+"."+s.Table)
}

// viewName is the user-facing view's qualified name.
func (s TableSchema) viewName() string { return QuoteIdent(s.Database) + "." + QuoteIdent(s.Table) }

// MemoryTable is the memory tier of one table inside DuckDB, with the appender that
// fills it. It is not safe for concurrent use: one goroutine publishes into it.
type MemoryTable struct {
	e      *Engine
	conn   *dbsql.Conn
	schema TableSchema
	cols   [][2]string
	app    *duckdb.Appender
	row    []driver.Value
}

// OpenMemoryTable creates the table's memory table (or widens it to schema) and the view
// users query, and returns the memory table ready for appends. magnetic is the magnetic
// tier's current files (see DefineView).
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

// Evolve widens the memory table to schema's columns (new columns only: a learned column
// is never dropped or retyped) and redefines the view.
func (m *MemoryTable) Evolve(ctx context.Context, schema TableSchema, magnetic Magnetic) error {
	cols, err := schema.columns()
	if err != nil {
		return err
	}
	if err := m.closeAppender(); err != nil {
		return err
	}
	name := schema.memoryName()
	if m.cols == nil {
		var defs []string
		for _, c := range cols {
			defs = append(defs, QuoteIdent(c[0])+" "+c[1])
		}
		if _, err := m.conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+name+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("create memory table %s: %w", name, err)
		}
	} else {
		for _, c := range cols {
			if slices.ContainsFunc(m.cols, func(h [2]string) bool { return h[0] == c[0] }) {
				continue
			}
			if _, err := m.conn.ExecContext(ctx, "ALTER TABLE "+name+" ADD COLUMN "+QuoteIdent(c[0])+" "+c[1]); err != nil {
				return fmt.Errorf("widen memory table %s: %w", name, err)
			}
		}
	}
	m.schema, m.cols = schema, cols
	m.row = make([]driver.Value, len(cols))
	if err := m.defineView(ctx, m.conn, magnetic); err != nil {
		return err
	}
	return m.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderWithColumns(dc.(driver.Conn), "", MemorySchema, schema.Database+"."+schema.Table, m.columnNames())
		if err != nil {
			return fmt.Errorf("appender for %s: %w", name, err)
		}
		m.app = app
		return nil
	})
}

func (m *MemoryTable) columnNames() []string {
	out := make([]string, len(m.cols))
	for i, c := range m.cols {
		out[i] = c[0]
	}
	return out
}

// Row is one row to append.
type Row struct {
	Time        int64 // nanoseconds since the epoch
	MeasureName string
	Version     int64
	Seq         uint64
	// Values holds one entry per column of the schema, in its order (fewer if the row
	// was built before later columns were learned): a string for a dimension, and
	// float64, int64, string, bool or time.Time for a measure; nil where the row has none.
	Values []any
}

// Append adds rows to the appender's buffer; Flush makes them visible.
func (m *MemoryTable) Append(rows []Row) error {
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
	m.row[1] = r.MeasureName
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

// Flush makes every appended row visible to queries.
func (m *MemoryTable) Flush() error {
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
		stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+m.schema.memoryName()+" ("+quoteJoin(m.columnNames())+") VALUES "+marks)
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

func (m *MemoryTable) closeAppender() error {
	if m.app == nil {
		return nil
	}
	err := m.app.Close()
	m.app = nil
	if err != nil {
		return fmt.Errorf("close appender of %s: %w", m.schema.memoryName(), err)
	}
	return nil
}

// Close flushes and closes the appender and the connection.
func (m *MemoryTable) Close() error {
	err := m.closeAppender()
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
