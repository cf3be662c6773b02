package sql

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LastSuffix ends the name of a table's last-point view: "<database>"."<table>$last"
// holds, for each series (measure name and dimensions), its latest row — what a
// dashboard showing where each truck is now asks for. '$' is in no table name, so the
// view never meets a table's name.
//
// A last-point query on the table itself has to scan every row; the view reads a
// DuckDB table of one row per series that the memory tier keeps current as it
// publishes (see MergeLast), that is loaded from the magnetic files when the table is
// opened (LoadLast) and that loses the series whose rows retention drops (ExpireLast).
const LastSuffix = "$last"

// colKey is the last table's series key: the measure name and each present dimension's
// name and value, separated by zero bytes (which names and values never hold). A
// dimension learned later is absent (NULL) in older rows and leaves their key as it
// was.
const colKey = "_eddy_key"

// lastTable is the name in MemorySchema of the table of latest rows per series.
func (s TableSchema) lastTable() string { return s.Database + "/" + s.Table + "#last" }

// stageTable is the name in MemorySchema of the table MergeLast stages rows in; it has
// the memory table's columns.
func (s TableSchema) stageTable() string { return s.Database + "/" + s.Table + "#stage" }

func (s TableSchema) stageName() string {
	return QuoteIdent(MemorySchema) + "." + QuoteIdent(s.stageTable())
}

func (s TableSchema) lastName() string {
	return QuoteIdent(MemorySchema) + "." + QuoteIdent(s.lastTable())
}

// LastViewName is the last-point view's qualified name.
func (s TableSchema) LastViewName() string {
	return QuoteIdent(s.Database) + "." + QuoteIdent(s.Table+LastSuffix)
}

// lastColumns are the last table's columns: the key, then the logical columns with the
// version (which decides between two rows of one time) and without the seq.
func (s TableSchema) lastColumns() ([][2]string, error) {
	cols, err := s.columns()
	if err != nil {
		return nil, err
	}
	cols = slices.DeleteFunc(cols, func(c [2]string) bool { return c[0] == ColSeq })
	return append([][2]string{{colKey, "VARCHAR"}}, cols...), nil
}

// keyExpr is the SQL expression of a row's series key (see colKey).
func (s TableSchema) keyExpr() string {
	parts := []string{QuoteIdent(ColMeasureName)}
	for _, d := range s.Dimensions {
		q := QuoteIdent(d)
		parts = append(parts, "CASE WHEN "+q+" IS NULL THEN NULL ELSE "+quoteLiteral(d)+" || chr(0) || "+q+" END")
	}
	return "concat_ws(chr(0), " + strings.Join(parts, ", ") + ")"
}

// lastSource selects the last table's columns from the rows of from (a relation with
// the logical columns and the version).
func (s TableSchema) lastSource(from string) (string, error) {
	proj, err := s.projection(nil, true)
	if err != nil {
		return "", err
	}
	return "SELECT " + s.keyExpr() + " AS " + QuoteIdent(colKey) + ", " + proj + " FROM (" + from + ")", nil
}

// mergeLast is the statement merging the rows of src (with the last table's columns,
// at most one per key) into the last table: a row takes a series' place when it is
// later, or of the same time and a higher version (an upsert).
func (s TableSchema) mergeLast(src string) string {
	t, v, k := QuoteIdent(ColTime), QuoteIdent(ColVersion), QuoteIdent(colKey)
	return "MERGE INTO " + s.lastName() + " AS l USING (" + src + ") AS c ON l." + k + " = c." + k +
		" WHEN MATCHED AND (c." + t + " > l." + t + " OR (c." + t + " = l." + t + " AND c." + v + " > l." + v + "))" +
		" THEN UPDATE BY NAME WHEN NOT MATCHED THEN INSERT BY NAME"
}

// lastViewSQL defines the last-point view: the table's columns as its view shows them.
func (s TableSchema) lastViewSQL() (string, error) {
	proj, err := s.projection(nil, false)
	if err != nil {
		return "", err
	}
	return "CREATE OR REPLACE VIEW " + s.LastViewName() + " AS SELECT " + proj + " FROM " + s.lastName(), nil
}

// MergeLast makes rows (the latest of their series among the rows published since the
// last call, one per series, their series flushed) the latest rows of their series where
// they are later than what the last table holds. The rows go in through an appender and
// a staging table: selecting them from the memory table by seq scanned every row
// published since the last merge, and took a sixth of TSBS iot's ingest CPU.
func (m *MemoryTable) MergeLast(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	if m.stageApp == nil {
		return m.errNoAppender()
	}
	for i := range rows {
		m.fill(&rows[i])
		if err := m.stageApp.AppendRow(m.row...); err != nil {
			return fmt.Errorf("stage last points of %s: %w", m.schema.viewName(), err)
		}
	}
	if err := m.stageApp.Flush(); err != nil {
		return fmt.Errorf("stage last points of %s: %w", m.schema.viewName(), err)
	}
	src, err := m.schema.lastSource("SELECT * FROM " + m.schema.rowsRelation(m.schema.stageName()))
	if err != nil {
		return err
	}
	_, err = m.conn.ExecContext(ctx, m.schema.mergeLast(src))
	if _, derr := m.conn.ExecContext(ctx, "DELETE FROM "+m.schema.stageName()); err == nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("last points of %s: %w", m.schema.viewName(), err)
	}
	return nil
}

// LoadLast merges the latest row of each series in the magnetic files into the last
// table. It reads every file once; the table's open calls it before the memory tier is
// replayed.
func (m *MemoryTable) LoadLast(ctx context.Context, magnetic Magnetic) error {
	var parts []string
	if len(magnetic.Clean) > 0 {
		q, err := m.schema.filesRelation(magnetic.Clean, false, true)
		if err != nil {
			return err
		}
		parts = append(parts, q)
	}
	if len(magnetic.Dirty) > 0 {
		q, err := m.schema.filesRelation(magnetic.Dirty, true, true)
		if err != nil {
			return err
		}
		parts = append(parts, q)
	}
	if len(parts) == 0 {
		return nil
	}
	// A semi-join with each series' latest time: DuckDB runs it several times faster than
	// a window or arg_max over all the columns. It groups by the identity columns and
	// builds the key of the latest rows only (building it for every row tripled the
	// time). Within the files an identity (series and time) appears once, so each series
	// keeps one row.
	series := []string{QuoteIdent(ColMeasureName)}
	for _, d := range m.schema.Dimensions {
		series = append(series, QuoteIdent(d))
	}
	t := QuoteIdent(ColTime)
	on := []string{"r." + t + " = x." + t}
	for _, c := range series {
		on = append(on, "r."+c+" IS NOT DISTINCT FROM x."+c)
	}
	latest := "WITH r AS (" + strings.Join(parts, " UNION ALL ") + ") SELECT r.* FROM r SEMI JOIN (SELECT " +
		strings.Join(series, ", ") + ", max(" + t + ") AS " + t + " FROM r GROUP BY ALL) x ON " + strings.Join(on, " AND ")
	src, err := m.schema.lastSource(latest)
	if err != nil {
		return err
	}
	if _, err := m.conn.ExecContext(ctx, m.schema.mergeLast(src)); err != nil {
		return fmt.Errorf("last points of %s from the magnetic tier: %w", m.schema.viewName(), err)
	}
	return nil
}

// SaveLast writes the last table to a Parquet file at path (a local path), replacing
// the file at once when it is complete.
func (m *MemoryTable) SaveLast(ctx context.Context, path string) error {
	tmp := path + ".tmp"
	if _, err := m.conn.ExecContext(ctx, "COPY (SELECT * FROM "+m.schema.lastName()+") TO "+quoteLiteral(tmp)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		return fmt.Errorf("save the last points of %s: %w", m.schema.viewName(), err)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncFile(filepath.Dir(path))
}

// LoadLastFile merges the rows of a file SaveLast wrote into the last table, leaving
// out those older than keepFrom (retention dropped them since). It reports false, and
// does nothing, when there is no file.
func (m *MemoryTable) LoadLastFile(ctx context.Context, path string, keepFrom int64) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	src := fmt.Sprintf("SELECT * FROM read_parquet(%s) WHERE %s >= make_timestamp_ns(%d)", quoteLiteral(path), QuoteIdent(ColTime), keepFrom)
	if _, err := m.conn.ExecContext(ctx, m.schema.mergeLast(src)); err != nil {
		return false, fmt.Errorf("load the last points of %s from %s: %w", m.schema.viewName(), path, err)
	}
	return true, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ExpireLast forgets the series whose latest row is older than cut: retention dropped
// every row they had.
func (m *MemoryTable) ExpireLast(ctx context.Context, cut int64) error {
	_, err := m.conn.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s < make_timestamp_ns(%d)", m.schema.lastName(), QuoteIdent(ColTime), cut))
	if err != nil {
		return fmt.Errorf("expire last points of %s: %w", m.schema.viewName(), err)
	}
	return nil
}
