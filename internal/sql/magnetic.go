package sql

import (
	"cmp"
	"context"
	dbsql "database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
)

// File is one Parquet file of a table's magnetic tier as the engine reads it: a local
// path (the file itself, or its copy in the local cache) and the columns it holds. A file
// leaves out the dimensions and measures that are empty in all its rows.
type File struct {
	Path    string
	Columns []string
}

// Magnetic is a table's magnetic tier for its view. Clean files hold each identity at
// most once across all of them. Dirty files belong to partitions that took late writes
// after they were first written, so an identity may appear in several: the view keeps
// the row with the highest version and, among equal versions, the one from the file
// whose name sorts first (the earlier write, as the memory tier keeps the first of two
// writes with one version), until compaction merges them.
//
// Late is set when the memory table holds rows older than LateCut (late writes, on their
// way to the magnetic tier, that may replace a row already there): those rows are
// resolved together with the Dirty files, as the latest of them. The caller lists
// among Dirty every file of a day that has such rows.
type Magnetic struct {
	Clean, Dirty []File
	Late         bool
	LateCut      int64
}

// projection returns the select list giving every column of the schema, in view order,
// from files holding the columns have: a missing column reads as NULL of its type, a
// measure stored in another physical type (a double kept as DECIMAL) is cast back, and
// one stored relative to its series' base is added back to it.
func (s TableSchema) projection(have []string, internal bool) (string, error) {
	cols, err := s.columns()
	if err != nil {
		return "", err
	}
	var out []string
	for _, c := range cols {
		if c[0] == ColSeq || (!internal && c[0] == ColVersion) {
			continue
		}
		q := QuoteIdent(c[0])
		switch {
		case have == nil: // the memory table: every column, typed as declared
			out = append(out, q)
		case slices.Contains(have, relColumn(c[0])):
			// A measure stored relative to its series' base (see writeParquet), in files
			// read together with files holding it as is.
			stored := QuoteIdent(relColumn(c[0])) + " + " + QuoteIdent(baseColumn(c[0]))
			if slices.Contains(have, c[0]) {
				stored = "coalesce(" + q + ", " + stored + ")"
			}
			out = append(out, "CAST("+stored+" AS "+c[1]+") AS "+q)
		case slices.Contains(have, c[0]):
			out = append(out, "CAST("+q+" AS "+c[1]+") AS "+q)
		default:
			out = append(out, "NULL::"+c[1]+" AS "+q)
		}
	}
	return strings.Join(out, ", "), nil
}

// identity is the column list of a record's identity: measure name, time, dimensions.
func (s TableSchema) identity() string {
	cols := []string{QuoteIdent(ColMeasureName), QuoteIdent(ColTime)}
	for _, d := range s.Dimensions {
		cols = append(cols, QuoteIdent(d))
	}
	return strings.Join(cols, ", ")
}

// filesRelation returns a query over files giving the schema's columns (with _version
// when internal); with dedupe, one row per identity as Magnetic describes.
func (s TableSchema) filesRelation(files []File, dedupe, internal bool) (string, error) {
	return s.resolved(files, "", internal, dedupe)
}

// fileList returns the files' paths as SQL literals and the columns any of them holds.
func fileList(files []File) (paths, have []string) {
	paths = make([]string, len(files))
	for i, f := range files {
		paths[i] = quoteLiteral(f.Path)
		for _, c := range f.Columns {
			if !slices.Contains(have, c) {
				have = append(have, c)
			}
		}
	}
	return paths, have
}

// resolved is filesRelation, with the memory rows matching lateWhere (if not empty)
// taking part in the version resolution as the newest file.
func (s TableSchema) resolved(files []File, lateWhere string, internal, dedupe bool) (string, error) {
	paths, have := fileList(files)
	list := "[" + strings.Join(paths, ", ") + "]"
	if !dedupe {
		proj, err := s.projection(have, internal)
		if err != nil {
			return "", err
		}
		return "SELECT " + proj + " FROM read_parquet(" + list + ", union_by_name = true)", nil
	}
	inner, err := s.projection(have, true)
	if err != nil {
		return "", err
	}
	outer, err := s.projection(nil, internal)
	if err != nil {
		return "", err
	}
	var parts []string
	if len(files) > 0 {
		parts = append(parts, "SELECT "+inner+", _eddy_file FROM read_parquet("+list+", union_by_name = true, filename = '_eddy_file')")
	}
	if lateWhere != "" {
		memProj, err := s.projection(nil, true)
		if err != nil {
			return "", err
		}
		// '~' sorts after every file path: a memory row, the latest write, loses a tie of
		// versions like any later file (see Magnetic).
		parts = append(parts, "SELECT "+memProj+", '~memory' AS _eddy_file FROM "+s.memoryRelation()+" WHERE "+lateWhere)
	}
	return "SELECT " + outer + " FROM (SELECT *, row_number() OVER (PARTITION BY " + s.identity() +
		" ORDER BY " + QuoteIdent(ColVersion) + " DESC, _eddy_file ASC) AS _eddy_rank FROM (" +
		strings.Join(parts, " UNION ALL BY NAME ") + ")) WHERE _eddy_rank = 1", nil
}

// viewSQL is the statement defining the table's view: the memory table and the magnetic
// files as one relation.
func (s TableSchema) viewSQL(magnetic Magnetic) (string, error) {
	if _, err := s.columns(); err != nil {
		return "", err
	}
	mem := s.memorySelect()
	lateWhere := ""
	if magnetic.Late {
		mem += fmt.Sprintf(" WHERE m.%s >= make_timestamp_ns(%d)", QuoteIdent(ColTime), magnetic.LateCut)
		lateWhere = fmt.Sprintf("%s < make_timestamp_ns(%d)", QuoteIdent(ColTime), magnetic.LateCut)
	}
	parts := []string{mem}
	if len(magnetic.Clean) > 0 {
		q, err := s.filesRelation(magnetic.Clean, false, false)
		if err != nil {
			return "", err
		}
		parts = append(parts, q)
	}
	if len(magnetic.Dirty) > 0 || lateWhere != "" {
		q, err := s.resolved(magnetic.Dirty, lateWhere, false, true)
		if err != nil {
			return "", err
		}
		parts = append(parts, q)
	}
	return "CREATE OR REPLACE VIEW " + s.viewName() + " AS " + strings.Join(parts, " UNION ALL "), nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (dbsql.Result, error)
}

func (m *MemoryTable) defineView(ctx context.Context, ex execer, magnetic Magnetic) error {
	if _, err := ex.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+QuoteIdent(m.schema.Database)); err != nil {
		return fmt.Errorf("schema for database %q: %w", m.schema.Database, err)
	}
	q, err := m.schema.viewSQL(magnetic)
	if err != nil {
		return err
	}
	if _, err := ex.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("define view %s: %w", m.schema.viewName(), err)
	}
	return nil
}

// TimeRange is a half-open range of times in nanoseconds since the epoch.
type TimeRange struct{ From, To int64 }

// ExportStats describes a Parquet file Export wrote.
type ExportStats struct {
	Rows             int64
	MinTime, MaxTime int64
	Columns          []string
}

// Export writes the memory rows in r accepted up to seq maxSeq to a Parquet file at path
// (a local path), sorted by measure name, dimensions and time. It writes nothing and
// returns zero Rows when there are none. The rows must be visible (flushed); Export runs
// on its own connection, so appends and queries go on meanwhile.
func (m *MemoryTable) Export(ctx context.Context, r TimeRange, maxSeq uint64, path string) (ExportStats, error) {
	proj, err := m.schema.projection(nil, true)
	if err != nil {
		return ExportStats{}, err
	}
	src := fmt.Sprintf("SELECT %s FROM %s WHERE %s >= make_timestamp_ns(%d) AND %s < make_timestamp_ns(%d) AND %s <= %d",
		proj, m.schema.memoryRelation(), QuoteIdent(ColTime), r.From, QuoteIdent(ColTime), r.To, QuoteIdent(ColSeq), maxSeq)
	return writeParquet(ctx, m.e.db, m.schema, src, path)
}

// Compact writes the rows of files (one per identity when dedupe) to one Parquet file at
// path, on its own connection.
func (m *MemoryTable) Compact(ctx context.Context, files []File, dedupe bool, path string) (ExportStats, error) {
	src, err := m.schema.filesRelation(files, dedupe, true)
	if err != nil {
		return ExportStats{}, err
	}
	return writeParquet(ctx, m.e.db, m.schema, src, path)
}

// querier is a connection or a pool.
type querier interface {
	execer
	QueryRowContext(ctx context.Context, query string, args ...any) *dbsql.Row
}

// dictionaryLimit keeps Parquet's dictionary encoding to columns with at most 64 distinct
// values in a row group. A measurement's series, sorted by time, takes far fewer bits as
// deltas (DELTA_BINARY_PACKED) than as dictionary indexes — on TSBS cpu-only data 0.32
// against 0.59 bytes per value, and TSBS iot's velocity, grade and heading (101 to 361
// values) 12–51% more as dictionaries — but a status of six values takes 9% less as one,
// and dimension strings broken up by rows that lack them a quarter less. A row group
// holds a narrow range of series (about 30 hosts of TSBS cpu-only over 12 h), so its
// dimensions keep a dictionary, on which DuckDB evaluates a filter once per distinct
// value instead of comparing every row's string: one host's hour on TSBS cpu-only data
// executed in 2.9 ms instead of 4.3 ms.
const dictionaryLimit = "64"

// zstdLevel trades tiering time for space: level 19 stores TSBS cpu-only data in about
// 13% less than zstd's default level and takes about twice as long to write — background
// work, off the write path. rowGroupSize stays small enough that a query for one series
// and a time range reads few row groups (a million-row group made one host's hour seven
// times slower to query, for 1% less space).
const (
	zstdLevel    = "19"
	rowGroupSize = "122880"
)

// decimalScales are the scales tried, smallest first, for storing a double column as a
// 64-bit decimal: measurements usually have few decimals, and as integers they take the
// delta and dictionary encodings that make them small (the idea VictoriaMetrics applies
// to its floats).
var decimalScales = []int{0, 1, 2, 3, 4, 5, 6}

// writeParquet writes the rows of src, a query giving the schema's columns with
// _version, to path. Columns without a value are left out; a double column whose every
// value survives a round trip through DECIMAL(18, k) for the smallest such k is stored
// as that decimal, and a numeric measure of more than 65,536 steps relative to its
// series' base (see relativeRows).
func writeParquet(ctx context.Context, conn querier, schema TableSchema, src, path string) (ExportStats, error) {
	var st ExportStats
	cols, err := schema.columns()
	if err != nil {
		return st, err
	}
	// One pass over src for the row count, the time range, which columns have values and
	// the scale of each double column.
	aggs := []string{"count(*)", "coalesce(epoch_ns(min(time)), 0)", "coalesce(epoch_ns(max(time)), 0)"}
	type probe struct {
		col    string
		sqlTyp string
		first  int // index of its count in the scanned values
		bounds int // index of its minimum and maximum, for a numeric measure
	}
	var probes []probe
	for _, c := range cols {
		if c[0] == ColTime || c[0] == ColMeasureName || c[0] == ColVersion || c[0] == ColSeq {
			continue
		}
		p := probe{col: c[0], sqlTyp: c[1], first: len(aggs)}
		q := QuoteIdent(c[0])
		aggs = append(aggs, "count("+q+")")
		if slices.Contains(schema.Dimensions, c[0]) {
			aggs = append(aggs, "approx_count_distinct("+q+")")
		}
		if c[1] == "DOUBLE" {
			for _, k := range decimalScales {
				// A decimal has no -0: a column holding one stays double.
				aggs = append(aggs, fmt.Sprintf("bool_and(%s IS NULL OR (coalesce(TRY_CAST(TRY_CAST(%s AS DECIMAL(18,%d)) AS DOUBLE) = %s, false) AND NOT (%s = 0 AND signbit(%s))))", q, q, k, q, q, q))
			}
		}
		if c[1] == "DOUBLE" || c[1] == "BIGINT" {
			p.bounds = len(aggs)
			aggs = append(aggs, "min("+q+")::DOUBLE", "max("+q+")::DOUBLE")
		}
		probes = append(probes, p)
	}
	vals := make([]any, len(aggs))
	ptrs := make([]any, len(aggs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(aggs, ", ")+" FROM ("+src+")").Scan(ptrs...); err != nil {
		return st, fmt.Errorf("scan rows to export: %w", err)
	}
	st.Rows, st.MinTime, st.MaxTime = toInt64(vals[0]), toInt64(vals[1]), toInt64(vals[2])
	if st.Rows == 0 {
		return st, nil
	}
	// The file's columns: name, and how the select list gives it from src.
	var out []outColumn
	for _, c := range []string{ColTime, ColMeasureName, ColVersion} {
		out = append(out, outColumn{name: c, expr: QuoteIdent(c)})
	}
	var order []dimOrder
	dims := schema.Dimensions
	for _, p := range probes {
		if toInt64(vals[p.first]) == 0 {
			continue
		}
		q := QuoteIdent(p.col)
		c := outColumn{name: p.col, expr: q}
		if p.sqlTyp == "BIGINT" {
			c.typ = "BIGINT"
		}
		if p.sqlTyp == "DOUBLE" {
			for i, k := range decimalScales {
				if b, _ := vals[p.first+1+i].(bool); b {
					c.typ, c.scale = fmt.Sprintf("DECIMAL(18,%d)", k), k
					c.expr = "CAST(" + q + " AS " + c.typ + ")"
					break
				}
			}
		}
		if slices.Contains(dims, p.col) {
			order = append(order, dimOrder{q, toInt64(vals[p.first+1])})
		} else if c.typ != "" {
			c.relative = relativePays(vals[p.bounds], vals[p.bounds+1], c.scale, st.Rows)
		}
		out = append(out, c)
	}
	// Rows sort by series, the dimension with the most values first (a host's name
	// before its region): then each row group holds a narrow range of it, and a query
	// for one device skips the others by their statistics. Within a series, by time.
	slices.SortStableFunc(order, func(a, b dimOrder) int { return cmp.Compare(b.distinct, a.distinct) })
	key, err := seriesKey(ctx, conn, src, order)
	if err != nil {
		return st, err
	}
	series := []string{QuoteIdent(ColMeasureName)}
	for _, d := range order[:key] {
		series = append(series, d.q)
	}
	orderBy := append(slices.Clone(series), QuoteIdent(ColTime))
	for _, d := range order[key:] {
		orderBy = append(orderBy, d.q)
	}
	var rows string
	if slices.ContainsFunc(out, func(c outColumn) bool { return c.relative }) {
		rows = relativeRows(out, series, orderBy, src)
	} else {
		sel := make([]string, len(out))
		for i, c := range out {
			sel[i] = c.expr + " AS " + QuoteIdent(c.name)
		}
		rows = "SELECT " + strings.Join(sel, ", ") + " FROM (" + src + ") ORDER BY " + strings.Join(orderBy, ", ")
	}
	for _, c := range out {
		if c.relative {
			st.Columns = append(st.Columns, relColumn(c.name), baseColumn(c.name))
		} else {
			st.Columns = append(st.Columns, c.name)
		}
	}
	q := "COPY (" + rows + ") TO " + quoteLiteral(path) + " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL " + zstdLevel + ", PARQUET_VERSION v2, ROW_GROUP_SIZE " + rowGroupSize + ", DICTIONARY_SIZE_LIMIT " + dictionaryLimit + ")"
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return st, fmt.Errorf("write %s: %w", path, err)
	}
	return st, nil
}

// outColumn is a column of a magnetic file being written.
type outColumn struct {
	name string
	expr string // its value, from the source rows
	// typ is the integer type a numeric measure is stored as (BIGINT, or DECIMAL(18,
	// scale) for a double), empty for any other column.
	typ   string
	scale int
	// relative stores the measure relative to its series' base (see relativeRows).
	relative bool
}

// relColumn and baseColumn are the columns of a measure stored relative to its series'
// base: the measure is their sum. The _eddy prefix is reserved: no measure takes it.
func relColumn(measure string) string  { return "_eddy_rel_" + measure }
func baseColumn(measure string) string { return "_eddy_base_" + measure }

// relativePays reports whether a numeric measure with values from lo to hi, stored as
// integers of scale decimals, is stored relative to its series' bases in a file of rows
// rows: when its values span more than 65,536 steps, so that a jump between series may
// take more than 16 bits (a latitude of five decimals spans 18 million). Relative values
// save a tenth of TSBS iot's latitudes and longitudes; a measure of a few thousand steps
// or fewer (TSBS cpu-only's usages, iot's elevation or load) saves at most 13%, and the
// base column it adds makes a scan of it 20–30% slower. Nor is a measure whose offsets
// could overflow an 18-digit integer: a base or a relative value is at most 2·max|v| +
// (series+1)·(hi−lo), and there are at most as many series as rows.
func relativePays(lo, hi any, scale int, rows int64) bool {
	l, okl := lo.(float64)
	h, okh := hi.(float64)
	if !okl || !okh {
		return false
	}
	unit := math.Pow10(scale)
	span := (h - l) * unit
	bound := 2*max(math.Abs(l), math.Abs(h))*unit + float64(rows+1)*span
	return span > 1<<16 && bound < 1e17
}

// relativeRows is the query giving the rows of src to write, sorted by orderBy, with each
// relative measure m of out stored as two columns: its value minus its series' base
// (relColumn) and that base (baseColumn), series being the columns rows sort by before
// time.
//
// DELTA_BINARY_PACKED stores blocks of 2,048 deltas, each miniblock of 256 as wide as
// its widest delta above the block's smallest one, and DuckDB starts one page, the only
// place the deltas restart, per row group. The jump from one series' last value to the
// next one's first then widens a miniblock, or when it goes down every delta of its
// block: on TSBS data, a tenth of a latitude's bytes and an eighth of a CPU usage's. The
// bases make the relative values continuous: each series' relative values start where
// the previous series' ended (the first series' are its values), and a base is the same
// on all the rows of its series, which zstd makes almost free.
func relativeRows(out []outColumn, series, orderBy []string, src string) string {
	var ends, bases, sel []string
	for i, c := range out {
		q := QuoteIdent(c.name)
		if !c.relative {
			sel = append(sel, "r."+q)
			continue
		}
		first, last := fmt.Sprintf("_eddy_first%d", i), fmt.Sprintf("_eddy_last%d", i)
		ends = append(ends,
			fmt.Sprintf("arg_min(%s, %s) FILTER (WHERE %s IS NOT NULL) AS %s", q, QuoteIdent(ColTime), q, first),
			fmt.Sprintf("arg_max(%s, %s) FILTER (WHERE %s IS NOT NULL) AS %s", q, QuoteIdent(ColTime), q, last))
		// base = first − (the first series' first value + the sum of (last − first) of
		// the series before).
		bases = append(bases, fmt.Sprintf("CAST(coalesce(%[1]s - first_value(%[1]s IGNORE NULLS) OVER (ORDER BY %[3]s ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)"+
			" - coalesce(sum(%[2]s - %[1]s) OVER (ORDER BY %[3]s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS %[4]s) AS %[5]s",
			first, last, strings.Join(series, ", "), c.typ, QuoteIdent(baseColumn(c.name))))
		sel = append(sel,
			fmt.Sprintf("CAST(r.%s - coalesce(b.%s, 0) AS %s) AS %s", q, QuoteIdent(baseColumn(c.name)), c.typ, QuoteIdent(relColumn(c.name))),
			"coalesce(b."+QuoteIdent(baseColumn(c.name))+", 0) AS "+QuoteIdent(baseColumn(c.name)))
	}
	rowsSel := make([]string, len(out))
	for i, c := range out {
		rowsSel[i] = c.expr + " AS " + QuoteIdent(c.name)
	}
	on := make([]string, len(series))
	for i, k := range series {
		on[i] = "r." + k + " IS NOT DISTINCT FROM b." + k
	}
	rOrder := make([]string, len(orderBy))
	for i, o := range orderBy {
		rOrder[i] = "r." + o
	}
	return "WITH _eddy_rows AS (SELECT " + strings.Join(rowsSel, ", ") + " FROM (" + src + ")), " +
		"_eddy_ends AS (SELECT " + strings.Join(series, ", ") + ", " + strings.Join(ends, ", ") + " FROM _eddy_rows GROUP BY " + strings.Join(series, ", ") + "), " +
		"_eddy_bases AS (SELECT " + strings.Join(series, ", ") + ", " + strings.Join(bases, ", ") + " FROM _eddy_ends) " +
		"SELECT " + strings.Join(sel, ", ") + " FROM _eddy_rows r LEFT JOIN _eddy_bases b ON " + strings.Join(on, " AND ") +
		" ORDER BY " + strings.Join(rOrder, ", ")
}

// dimOrder is a dimension of a file's rows and its (approximate) number of values.
type dimOrder struct {
	q        string // quoted name
	distinct int64
}

// seriesKey returns how many of the dimensions, in order, the rows sort by before time:
// one, when every combination of the dimensions that has all of them has a single value
// of the first one (a truck's name fixes its fleet and model), and all of them otherwise.
//
// A row that lacks one of the other dimensions (TSBS's iot leaves out a tag of 1% of
// its rows) then stays among its truck's rows in time order rather than starting a
// series of its own: each such series costs every measure a jump in its deltas, which
// widens a block of them. Sorting by name and time instead of by every dimension and
// time stores TSBS iot in 6% less.
func seriesKey(ctx context.Context, conn querier, src string, order []dimOrder) (int, error) {
	if len(order) < 2 {
		return len(order), nil
	}
	all := []string{QuoteIdent(ColMeasureName)}
	var have []string
	for _, d := range order {
		all = append(all, d.q)
		have = append(have, d.q+" IS NOT NULL")
	}
	var one bool
	q := "SELECT count(DISTINCT (" + all[0] + ", " + all[1] + ")) = count(DISTINCT (" + strings.Join(all, ", ") + ")) FROM (" + src + ") WHERE " + strings.Join(have, " AND ")
	if err := conn.QueryRowContext(ctx, q).Scan(&one); err != nil {
		return 0, fmt.Errorf("count series to export: %w", err)
	}
	if one {
		return 1, nil
	}
	return len(order), nil
}

// Moved makes the rows of ranges accepted up to maxSeq disappear from the memory table
// and redefines the view with magnetic, in one transaction: a query sees the rows in the
// memory tier or in the magnetic files, never in both and never in neither.
//
// After dropping them it asks view for the magnetic tier to show, given the days (starts
// in nanoseconds) of the memory rows still older than cut.
func (m *MemoryTable) Moved(ctx context.Context, ranges []TimeRange, maxSeq uint64, cut int64, view func(lateDays []int64) Magnetic) error {
	if err := m.Flush(); err != nil {
		return err
	}
	tx, err := m.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range ranges {
		q := fmt.Sprintf("DELETE FROM %s WHERE %s >= make_timestamp_ns(%d) AND %s < make_timestamp_ns(%d) AND %s <= %d",
			m.schema.memoryName(), QuoteIdent(ColTime), r.From, QuoteIdent(ColTime), r.To, QuoteIdent(ColSeq), maxSeq)
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("drop moved rows of %s: %w", m.schema.memoryName(), err)
		}
	}
	days, err := lateDays(ctx, tx, m.schema, cut)
	if err != nil {
		return err
	}
	if err := m.defineView(ctx, tx, view(days)); err != nil {
		return err
	}
	return tx.Commit()
}

// lateDays returns the days of the memory rows older than cut.
func lateDays(ctx context.Context, tx *dbsql.Tx, schema TableSchema, cut int64) ([]int64, error) {
	const day = 24 * 60 * 60 * 1_000_000_000
	// Floor division: a day before 1970 starts before its times, not after.
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT DISTINCT epoch_ns(%s) - ((epoch_ns(%s) %% %d) + %d) %% %d FROM %s WHERE %s < make_timestamp_ns(%d)",
		QuoteIdent(ColTime), QuoteIdent(ColTime), int64(day), int64(day), int64(day), schema.memoryName(), QuoteIdent(ColTime), cut))
	if err != nil {
		return nil, fmt.Errorf("late rows of %s: %w", schema.memoryName(), err)
	}
	defer rows.Close()
	var days []int64
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		days = append(days, d)
	}
	return days, rows.Err()
}

// SetMagnetic redefines the view with magnetic (after compaction or retention).
func (m *MemoryTable) SetMagnetic(ctx context.Context, magnetic Magnetic) error {
	return m.defineView(ctx, m.conn, magnetic)
}

// Drop removes the table's view and memory table.
func (m *MemoryTable) Drop(ctx context.Context) error {
	if err := m.closeAppenders(); err != nil {
		return err
	}
	for _, q := range []string{
		"DROP VIEW IF EXISTS " + m.schema.viewName(), "DROP VIEW IF EXISTS " + m.schema.LastViewName(),
		"DROP TABLE IF EXISTS " + m.schema.memoryName(), "DROP TABLE IF EXISTS " + m.schema.seriesName(), "DROP TABLE IF EXISTS " + m.schema.lastName(), "DROP TABLE IF EXISTS " + m.schema.stageName(),
	} {
		if _, err := m.conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}
