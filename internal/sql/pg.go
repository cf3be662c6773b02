package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// This file is the engine's side of the PostgreSQL wire protocol: statements described
// before they run (the extended protocol's Parse and Describe), $n parameters, and
// results read a row at a time with their values in Go's own types rather than JSON's.

// Statement describes a read-only statement before it runs.
type Statement struct {
	// Params are the DuckDB types of the statement's parameters $1, $2...; "" where
	// DuckDB cannot tell from the statement alone (SELECT $1).
	Params []string
	// Columns are the columns of its result, with DuckDB's type names as in Result.
	Columns []ResultColumn
}

// Describe checks that q is one read-only statement, as Query does, and returns its
// parameters and result columns without running it.
func (e *Engine) Describe(ctx context.Context, q string) (*Statement, error) {
	stmt, shimArgs, err := e.pgStatement(ctx, q)
	if err != nil {
		return nil, err
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe the query: %w", err)
	}
	defer conn.Close()
	var out Statement
	unknown := false
	err = conn.Raw(func(dc any) error {
		prep, ok := dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("the DuckDB driver cannot prepare statements")
		}
		ds, err := prep.PrepareContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer ds.Close()
		s, ok := ds.(*duckdb.Stmt)
		if !ok {
			return fmt.Errorf("the DuckDB driver prepared a %T", ds)
		}
		// The shim's own arguments are not the caller's parameters.
		for i := len(shimArgs) + 1; i <= s.NumInput(); i++ {
			t, err := s.ParamType(i)
			if err != nil {
				return err
			}
			out.Params = append(out.Params, typeNameOf(t, nil))
		}
		n, err := s.ColumnCount()
		if err != nil {
			return err
		}
		for i := range n {
			name, err := s.ColumnName(i)
			if err != nil {
				return err
			}
			info, err := s.ColumnTypeInfo(i)
			if err != nil {
				// DuckDB cannot type the result before the parameters are bound
				// (range($1)); then it has one column, which is not the result's.
				out.Columns, unknown = nil, true
				return nil
			}
			out.Columns = append(out.Columns, ResultColumn{Name: name, Type: typeNameOf(info.InternalType(), info)})
		}
		return nil
	})
	if err != nil {
		var de *duckdb.Error
		if errors.As(err, &de) {
			return nil, errInvalidQuery("%s", de.Msg)
		}
		return nil, fmt.Errorf("describe the query: %w", err)
	}
	if unknown {
		if out.Columns, err = e.columnsWithNulls(ctx, conn, stmt, len(shimArgs)+len(out.Params), shimArgs); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// columnsWithNulls learns the result columns of a statement DuckDB cannot type before
// its parameters are bound by running it with every parameter NULL and no rows asked.
func (e *Engine) columnsWithNulls(ctx context.Context, conn *dbsql.Conn, stmt string, params int, shimArgs []any) ([]ResultColumn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := make([]any, params)
	copy(args, shimArgs)
	rows, err := conn.QueryContext(ctx, "SELECT * FROM ("+stmt+") LIMIT 0", args...)
	if err != nil {
		var de *duckdb.Error
		if errors.As(err, &de) {
			return nil, errInvalidQuery("%s", de.Msg)
		}
		return nil, fmt.Errorf("describe the query: %w", err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("describe the query: %w", err)
	}
	cols := make([]ResultColumn, len(types))
	for i, t := range types {
		cols[i] = ResultColumn{Name: t.Name(), Type: t.DatabaseTypeName()}
	}
	return cols, nil
}

// typeNameOf names a prepared statement's type as database/sql's ColumnTypes name the
// same type of a result, so that a statement's description matches its result. An
// unknown type is "".
func typeNameOf(t duckdb.Type, info duckdb.TypeInfo) string {
	switch t {
	case duckdb.TYPE_INVALID, duckdb.TYPE_ANY, duckdb.TYPE_SQLNULL:
		return ""
	case duckdb.TYPE_DECIMAL:
		if info == nil {
			return "DECIMAL"
		}
		if d, ok := info.Details().(*duckdb.DecimalDetails); ok {
			return fmt.Sprintf("DECIMAL(%d,%d)", d.Width, d.Scale)
		}
		return "DECIMAL"
	case duckdb.TYPE_LIST:
		if info == nil {
			return "LIST[]"
		}
		if d, ok := info.Details().(*duckdb.ListDetails); ok {
			return typeNameOf(d.Child.InternalType(), d.Child) + "[]"
		}
	}
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "VARCHAR"
}

// typeNames are the names database/sql gives the DuckDB types.
var typeNames = map[duckdb.Type]string{
	duckdb.TYPE_BOOLEAN: "BOOLEAN", duckdb.TYPE_TINYINT: "TINYINT", duckdb.TYPE_SMALLINT: "SMALLINT",
	duckdb.TYPE_INTEGER: "INTEGER", duckdb.TYPE_BIGINT: "BIGINT", duckdb.TYPE_UTINYINT: "UTINYINT",
	duckdb.TYPE_USMALLINT: "USMALLINT", duckdb.TYPE_UINTEGER: "UINTEGER", duckdb.TYPE_UBIGINT: "UBIGINT",
	duckdb.TYPE_FLOAT: "FLOAT", duckdb.TYPE_DOUBLE: "DOUBLE", duckdb.TYPE_TIMESTAMP: "TIMESTAMP",
	duckdb.TYPE_DATE: "DATE", duckdb.TYPE_TIME: "TIME", duckdb.TYPE_INTERVAL: "INTERVAL",
	duckdb.TYPE_HUGEINT: "HUGEINT", duckdb.TYPE_UHUGEINT: "UHUGEINT", duckdb.TYPE_VARCHAR: "VARCHAR",
	duckdb.TYPE_BLOB: "BLOB", duckdb.TYPE_TIMESTAMP_S: "TIMESTAMP_S", duckdb.TYPE_TIMESTAMP_MS: "TIMESTAMP_MS",
	duckdb.TYPE_TIMESTAMP_NS: "TIMESTAMP_NS", duckdb.TYPE_ENUM: "ENUM", duckdb.TYPE_STRUCT: "STRUCT",
	duckdb.TYPE_MAP: "MAP", duckdb.TYPE_ARRAY: "ARRAY", duckdb.TYPE_UUID: "UUID", duckdb.TYPE_UNION: "UNION",
	duckdb.TYPE_BIT: "BIT", duckdb.TYPE_TIME_TZ: "TIMETZ", duckdb.TYPE_TIMESTAMP_TZ: "TIMESTAMPTZ",
	duckdb.TYPE_BIGNUM: "BIGNUM",
}

// Interval is a DuckDB INTERVAL: months, days and microseconds, kept apart as
// PostgreSQL keeps them.
type Interval struct {
	Months int32
	Days   int32
	Micros int64
}

// Text prints the interval as "1 year 2 months 3 days 04:05:06.5", with month and months
// naming the month unit (DuckDB says "months", PostgreSQL "mons").
func (iv Interval) Text(month, months string) string {
	var parts []string
	unit := func(n int64, one, many string) {
		switch {
		case n == 1 || n == -1:
			parts = append(parts, fmt.Sprintf("%d %s", n, one))
		case n != 0:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	unit(int64(iv.Months/12), "year", "years")
	unit(int64(iv.Months%12), month, months)
	unit(int64(iv.Days), "day", "days")
	if iv.Micros != 0 || len(parts) == 0 {
		us, sign := iv.Micros, ""
		if us < 0 {
			sign, us = "-", -us
		}
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, us/3_600_000_000, us/60_000_000%60, us/1_000_000%60)
		if frac := us % 1_000_000; frac != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// Rows is the open result of a statement, read a row at a time. The statement counts as
// running, so Cancel interrupts it, until the result is closed.
type Rows struct {
	// Columns are the result's columns, with DuckDB's type names.
	Columns []ResultColumn
	// QueryID names the statement for Cancel.
	QueryID string

	qs        *queries
	run       *run
	rows      *dbsql.Rows
	convert   []func(any) any
	caller    context.Context
	stopWatch func() bool
	done      bool
}

// OpenRows runs one read-only statement, checked as Query checks it, with args bound
// to its parameters $1, $2... It returns once DuckDB has computed the result, which the
// timeout bounds; reading it row by row is the caller's pace. Values are nil, bool,
// int64, float32, float64, string, []byte, time.Time or Interval: DECIMAL and integers
// beyond int64 come as exact decimal strings, UUIDs in their usual form, LIST, ARRAY,
// STRUCT, MAP and UNION values as JSON text. Args may be of the same Go types but
// Interval. The result must be closed.
//
// Errors are those of Query.
func (e *Engine) OpenRows(ctx context.Context, q string, args []any, opts QueryOptions) (*Rows, error) {
	qs := e.queries
	timeout, err := qs.timeout(opts.Timeout)
	if err != nil {
		return nil, err
	}
	if opts.ID != "" && !queryIDPattern.MatchString(opts.ID) {
		return nil, apierr.New(apierr.Invalid, "InvalidParameter", "query ID %q: use 1 to 64 letters, digits, '-' and '_'", opts.ID)
	}
	stmt, shimArgs, err := e.pgStatement(ctx, q)
	if err != nil {
		return nil, err
	}
	if len(shimArgs) > 0 {
		if len(args) > 0 {
			return nil, errInvalidQuery("this statement takes no parameters")
		}
		args = shimArgs
	}
	r, err := qs.start(opts.ID)
	if err != nil {
		return nil, err
	}
	timer := time.AfterFunc(timeout.d, func() { r.stop(stoppedByTimeout) })
	stopWatch := context.AfterFunc(ctx, func() { r.stop(stoppedByCaller) })
	rows, err := e.db.QueryContext(r.ctx, stmt, args...)
	timer.Stop()
	var types []*dbsql.ColumnType
	if err == nil {
		types, err = rows.ColumnTypes()
	}
	if err != nil {
		stopWatch()
		qs.finish(r, nil)
		if rows != nil {
			rows.Close()
		}
		r.cancel()
		return nil, r.failure(ctx, err, timeout)
	}
	res := &Rows{QueryID: r.id, qs: qs, run: r, rows: rows, caller: ctx, stopWatch: stopWatch,
		Columns: make([]ResultColumn, len(types)), convert: make([]func(any) any, len(types))}
	for i, t := range types {
		res.Columns[i] = ResultColumn{Name: t.Name(), Type: t.DatabaseTypeName()}
		res.convert[i] = pgConverter(t.DatabaseTypeName())
	}
	return res, nil
}

// Next returns the next row, or nil at the end of the result.
func (r *Rows) Next() ([]any, error) {
	if r.done {
		return nil, nil
	}
	if !r.rows.Next() {
		r.done = true
		err := r.rows.Err()
		if err == nil {
			err = r.run.ctx.Err()
		}
		if err != nil {
			return nil, r.run.failure(r.caller, err, limit{})
		}
		return nil, nil
	}
	vals := make([]any, len(r.Columns))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.rows.Scan(ptrs...); err != nil {
		r.done = true
		return nil, r.run.failure(r.caller, err, limit{})
	}
	for i, v := range vals {
		vals[i] = r.convert[i](v)
	}
	return vals, nil
}

// Close frees the result and ends the statement.
func (r *Rows) Close() {
	r.stopWatch()
	r.qs.finish(r.run, nil)
	_ = r.rows.Close()
	r.run.cancel()
}

// pgConverter returns the function that turns a value the driver returns for a column
// of DuckDB type typ into one of the types OpenRows promises.
func pgConverter(typ string) func(any) any {
	switch {
	case typ == "TIMETZ":
		return func(v any) any {
			if t, ok := v.(time.Time); ok {
				return t.Format("15:04:05.999999-07:00")
			}
			return pgValue(v)
		}
	case typ == "UUID":
		return func(v any) any {
			if b, ok := v.([]byte); ok && len(b) == 16 {
				h := fmt.Sprintf("%x", b)
				return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			}
			return pgValue(v)
		}
	case strings.HasSuffix(typ, "]") || strings.HasPrefix(typ, "STRUCT") || strings.HasPrefix(typ, "MAP") || strings.HasPrefix(typ, "UNION"):
		return func(v any) any {
			if v == nil {
				return nil
			}
			b, err := json.Marshal(jsonValue(v))
			if err != nil {
				return fmt.Sprint(v)
			}
			return string(b)
		}
	}
	return pgValue
}

func pgValue(v any) any {
	switch v := v.(type) {
	case nil, bool, string, int64, float32, float64, []byte, time.Time:
		return v
	case int8, int16, int32, int, uint8, uint16, uint32:
		i, _ := smallInt(v)
		return i
	case uint64:
		if v > math.MaxInt64 {
			return fmt.Sprint(v)
		}
		return int64(v)
	case *big.Int:
		return v.String()
	case duckdb.Decimal:
		return decimalString(v)
	case duckdb.Interval:
		return Interval{Months: v.Months, Days: v.Days, Micros: v.Micros}
	}
	return fmt.Sprint(jsonValue(v))
}

// decimalString prints a DECIMAL with all the digits of its scale, as PostgreSQL prints
// a numeric of that scale (12.340, not 12.34).
func decimalString(d duckdb.Decimal) string {
	s := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + s
	}
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	return sign + s[:len(s)-scale] + "." + s[len(s)-scale:]
}
