package sql

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FileRow is a row of the magnetic files as LookupFiles returns it, its columns in the
// schema's order.
type FileRow struct {
	Time        int64 // nanoseconds since the epoch
	MeasureName string
	Version     int64
	// Dimensions holds one value per dimension of the schema; "" where the row has none
	// (a dimension's value is never empty).
	Dimensions []string
	// Values holds one value per measure of the schema — float64, int64, string, bool or
	// time.Time — and nil where the row has none.
	Values []any
}

// Identity is a record's identity, to look up with LookupFiles.
type Identity struct {
	MeasureName string
	// Dimensions holds one value per dimension of the schema; "" for none.
	Dimensions []string
	Time       int64
}

// LookupFiles returns the rows of files that may have one of ids (a superset: the
// caller matches them exactly), one per identity: the one the view shows (the highest
// version; among equal versions the one of the file whose name sorts first). The write
// path asks it about late writes, whose identity may already be in the magnetic tier.
// It runs on its own connection.
func (e *Engine) LookupFiles(ctx context.Context, schema TableSchema, files []File, ids []Identity) ([]FileRow, error) {
	if len(files) == 0 || len(ids) == 0 {
		return nil, nil
	}
	// Each column is filtered by the values the identities have in it, before the
	// versions are resolved (a filter on identity columns keeps every version of an
	// identity), so that DuckDB reads only the row groups that may hold them: resolving
	// a whole day first took a second for four million rows.
	times := make([]string, len(ids))
	names := map[string]bool{}
	for i, id := range ids {
		times[i] = strconv.FormatInt(id.Time, 10)
		names[id.MeasureName] = true
	}
	where := []string{"epoch_ns(" + QuoteIdent(ColTime) + ") IN (SELECT unnest('[" + strings.Join(times, ",") + "]'::BIGINT[]))",
		QuoteIdent(ColMeasureName) + " IN (" + literals(names) + ")"}
	for j, d := range schema.Dimensions {
		vals, none := map[string]bool{}, false
		for _, id := range ids {
			if j < len(id.Dimensions) && id.Dimensions[j] != "" {
				vals[id.Dimensions[j]] = true
			} else {
				none = true
			}
		}
		var alts []string
		if len(vals) > 0 {
			alts = append(alts, QuoteIdent(d)+" IN ("+literals(vals)+")")
		}
		if none {
			alts = append(alts, QuoteIdent(d)+" IS NULL")
		}
		where = append(where, "("+strings.Join(alts, " OR ")+")")
	}
	paths, have := fileList(files)
	inner, err := schema.projection(have, true)
	if err != nil {
		return nil, err
	}
	cols := []string{"epoch_ns(" + QuoteIdent(ColTime) + ")", QuoteIdent(ColMeasureName), QuoteIdent(ColVersion)}
	for _, d := range schema.Dimensions {
		cols = append(cols, QuoteIdent(d))
	}
	for _, m := range schema.Measures {
		cols = append(cols, QuoteIdent(m.Name))
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM (SELECT *, row_number() OVER (PARTITION BY " + schema.identity() +
		" ORDER BY " + QuoteIdent(ColVersion) + " DESC, _eddy_file ASC) AS _eddy_rank FROM (SELECT * FROM (SELECT " + inner +
		", _eddy_file FROM read_parquet([" + strings.Join(paths, ", ") + "], union_by_name = true, filename = '_eddy_file')) WHERE " +
		strings.Join(where, " AND ") + ")) WHERE _eddy_rank = 1"
	rows, err := e.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("look up rows in the magnetic tier of %s: %w", schema.viewName(), err)
	}
	defer rows.Close()
	var out []FileRow
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	nd := len(schema.Dimensions)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := FileRow{Time: toInt64(vals[0]), MeasureName: vals[1].(string), Version: toInt64(vals[2]),
			Dimensions: make([]string, nd), Values: make([]any, len(schema.Measures))}
		for i := range nd {
			if s, ok := vals[3+i].(string); ok {
				r.Dimensions[i] = s
			}
		}
		for i := range schema.Measures {
			switch v := vals[3+nd+i].(type) {
			case time.Time:
				r.Values[i] = v.UTC()
			default:
				r.Values[i] = v
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// literals is the set's values as a list of SQL string literals, sorted.
func literals(set map[string]bool) string {
	vals := make([]string, 0, len(set))
	for v := range set {
		vals = append(vals, quoteLiteral(v))
	}
	slices.Sort(vals)
	return strings.Join(vals, ", ")
}
