package server

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/eddy-streams/eddy/internal/sql"
)

// pgType is a PostgreSQL type a DuckDB type is sent as.
type pgType struct {
	oid  uint32
	size int16 // pg_type.typlen: -1 for variable length
}

// The PostgreSQL types eddy sends and reads.
var (
	pgBool        = pgType{pgtype.BoolOID, 1}
	pgInt2        = pgType{pgtype.Int2OID, 2}
	pgInt4        = pgType{pgtype.Int4OID, 4}
	pgInt8        = pgType{pgtype.Int8OID, 8}
	pgFloat4      = pgType{pgtype.Float4OID, 4}
	pgFloat8      = pgType{pgtype.Float8OID, 8}
	pgNumeric     = pgType{pgtype.NumericOID, -1}
	pgText        = pgType{pgtype.TextOID, -1}
	pgBytea       = pgType{pgtype.ByteaOID, -1}
	pgDate        = pgType{pgtype.DateOID, 4}
	pgTime        = pgType{pgtype.TimeOID, 8}
	pgTimestamp   = pgType{pgtype.TimestampOID, 8}
	pgTimestamptz = pgType{pgtype.TimestamptzOID, 8}
	pgInterval    = pgType{pgtype.IntervalOID, 16}
	pgUUID        = pgType{pgtype.UUIDOID, 16}
	pgJSON        = pgType{pgtype.JSONOID, -1}
)

// pgTypeOf maps a DuckDB type name (as sql.ResultColumn has it) to the PostgreSQL
// type its values are sent as.
func pgTypeOf(duck string) pgType {
	switch duck {
	case "BOOLEAN":
		return pgBool
	case "TINYINT", "SMALLINT", "UTINYINT":
		return pgInt2
	case "INTEGER", "USMALLINT":
		return pgInt4
	case "BIGINT", "UINTEGER":
		return pgInt8
	case "UBIGINT", "HUGEINT", "UHUGEINT", "BIGNUM", "VARINT":
		return pgNumeric
	case "FLOAT":
		return pgFloat4
	case "DOUBLE":
		return pgFloat8
	case "BLOB":
		return pgBytea
	case "DATE":
		return pgDate
	case "TIME":
		return pgTime
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return pgTimestamp
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return pgTimestamptz
	case "INTERVAL":
		return pgInterval
	case "UUID":
		return pgUUID
	case "JSON":
		return pgJSON
	}
	switch {
	case strings.HasPrefix(duck, "DECIMAL"):
		return pgNumeric
	case strings.HasSuffix(duck, "]") || strings.HasPrefix(duck, "STRUCT") || strings.HasPrefix(duck, "MAP") || strings.HasPrefix(duck, "UNION"):
		return pgJSON
	}
	return pgText
}

// pgColumn is a result column as the client sees it.
type pgColumn struct {
	name string
	typ  pgType
}

func columnsOf(cols []sql.ResultColumn) []pgColumn {
	out := make([]pgColumn, len(cols))
	for i, c := range cols {
		out[i] = pgColumn{name: c.Name, typ: pgTypeOf(c.Type)}
	}
	return out
}

// pgTypeMaps hold pgx's type maps, which encode and decode numeric in binary format; a
// map is costly to build and not safe for concurrent use.
var pgTypeMaps = sync.Pool{New: func() any { return pgtype.NewMap() }}

// The PostgreSQL epoch of dates and timestamps in binary format.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// encode appends v, a value sql.Rows returns, in the given format (0 text, 1 binary).
func (t pgType) encode(buf []byte, v any, format int16) ([]byte, error) {
	if format == 0 {
		return append(buf, textOf(t, v)...), nil
	}
	switch t {
	case pgBool:
		b, ok := v.(bool)
		if !ok {
			break
		}
		if b {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case pgInt2, pgInt4, pgInt8:
		n, ok := v.(int64)
		if !ok {
			break
		}
		switch t.size {
		case 2:
			if n < math.MinInt16 || n > math.MaxInt16 {
				return nil, fmt.Errorf("%d is out of range for int2", n)
			}
			return binary.BigEndian.AppendUint16(buf, uint16(n)), nil
		case 4:
			if n < math.MinInt32 || n > math.MaxInt32 {
				return nil, fmt.Errorf("%d is out of range for int4", n)
			}
			return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
		}
		return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
	case pgFloat4:
		switch f := v.(type) {
		case float32:
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(f)), nil
		case float64:
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(f))), nil
		}
	case pgFloat8:
		switch f := v.(type) {
		case float32:
			f64, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
			return binary.BigEndian.AppendUint64(buf, math.Float64bits(f64)), nil
		case float64:
			return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
		}
	case pgNumeric:
		var n pgtype.Numeric
		if err := n.Scan(textOf(t, v)); err != nil {
			return nil, err
		}
		m := pgTypeMaps.Get().(*pgtype.Map)
		defer pgTypeMaps.Put(m)
		return m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, n, buf)
	case pgBytea:
		if b, ok := v.([]byte); ok {
			return append(buf, b...), nil
		}
	case pgDate:
		if tm, ok := v.(time.Time); ok {
			y, m, d := tm.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(pgEpoch).Hours() / 24
			return binary.BigEndian.AppendUint32(buf, uint32(int32(math.Round(days)))), nil
		}
	case pgTimestamp, pgTimestamptz:
		if tm, ok := v.(time.Time); ok {
			us := tm.Unix()*1_000_000 + int64(tm.Nanosecond()/1000) - pgEpoch.Unix()*1_000_000
			return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
		}
	case pgTime:
		if tm, ok := v.(time.Time); ok {
			us := int64(tm.Hour())*3_600_000_000 + int64(tm.Minute())*60_000_000 + int64(tm.Second())*1_000_000 + int64(tm.Nanosecond()/1000)
			return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
		}
	case pgInterval:
		if iv, ok := v.(sql.Interval); ok {
			buf = binary.BigEndian.AppendUint64(buf, uint64(iv.Micros))
			buf = binary.BigEndian.AppendUint32(buf, uint32(iv.Days))
			return binary.BigEndian.AppendUint32(buf, uint32(iv.Months)), nil
		}
	case pgUUID:
		if s, ok := v.(string); ok {
			b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
			if err != nil || len(b) != 16 {
				return nil, fmt.Errorf("%q is not a UUID", s)
			}
			return append(buf, b...), nil
		}
	default:
		// text, json and the types sent as text: the binary form is the text.
		return append(buf, textOf(t, v)...), nil
	}
	return nil, fmt.Errorf("cannot send a %T as type OID %d in binary format", v, t.oid)
}

// textOf is the text format of v, as PostgreSQL prints a value of type t.
func textOf(t pgType, v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "t"
		}
		return "f"
	case int64:
		return strconv.FormatInt(v, 10)
	case float32:
		return floatText(float64(v), 32)
	case float64:
		return floatText(v, 64)
	case []byte:
		return `\x` + hex.EncodeToString(v)
	case time.Time:
		v = v.UTC()
		switch t {
		case pgDate:
			return v.Format("2006-01-02")
		case pgTime:
			return v.Format("15:04:05.999999")
		case pgTimestamptz:
			return v.Format("2006-01-02 15:04:05.999999") + "+00"
		}
		return v.Format("2006-01-02 15:04:05.999999")
	case sql.Interval:
		return intervalText(v)
	}
	return fmt.Sprint(v)
}

func floatText(f float64, bits int) string {
	if s, ok := sql.NonFinite(f); ok {
		return s
	}
	// Shortest exact digits, in exponent form only for exponents below -4 or from 15
	// on, as PostgreSQL prints them (1795656840, 1e+15, 1e-05).
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp >= -4 && exp < 15 {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// intervalText prints an interval as PostgreSQL's default IntervalStyle does:
// "1 year 2 mons 3 days 04:05:06.5".
func intervalText(iv sql.Interval) string { return iv.Text("mon", "mons") }

// decodeParam turns a Bind parameter of type oid (0 when neither the client nor DuckDB
// knows it) into a Go value DuckDB binds.
func decodeParam(oid uint32, format int16, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if format == 1 {
		return decodeBinaryParam(oid, raw)
	}
	s := string(raw)
	switch oid {
	case pgtype.BoolOID:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "y", "yes", "on", "1":
			return true, nil
		case "f", "false", "n", "no", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case pgtype.ByteaOID:
		if h, ok := strings.CutPrefix(s, `\x`); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				return nil, fmt.Errorf("%q is not bytea in hex format", s)
			}
			return b, nil
		}
		return raw, nil
	case pgtype.DateOID, pgtype.TimestampOID, pgtype.TimestamptzOID:
		return parseTimeParam(s)
	case 0:
		// A parameter neither the client nor DuckDB gave a type (range($1)): DuckDB
		// would take text as VARCHAR, which fits no numeric argument, so what reads as
		// a number goes as one.
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && strings.ContainsAny(s, ".eE") && !strings.ContainsAny(s, "nN") {
			return f, nil
		}
	}
	return s, nil
}

// parseTimeParam reads a date or timestamp as clients write them.
func parseTimeParam(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00:00",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or timestamp", s)
}

func decodeBinaryParam(oid uint32, raw []byte) (any, error) {
	size := func(n int) error {
		if len(raw) != n {
			return fmt.Errorf("%d bytes for type OID %d in binary format, want %d", len(raw), oid, n)
		}
		return nil
	}
	switch oid {
	case pgtype.BoolOID:
		if err := size(1); err != nil {
			return nil, err
		}
		return raw[0] != 0, nil
	case pgtype.Int2OID:
		if err := size(2); err != nil {
			return nil, err
		}
		return int64(int16(binary.BigEndian.Uint16(raw))), nil
	case pgtype.Int4OID:
		if err := size(4); err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(raw))), nil
	case pgtype.Int8OID:
		if err := size(8); err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case pgtype.Float4OID:
		if err := size(4); err != nil {
			return nil, err
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case pgtype.Float8OID:
		if err := size(8); err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case pgtype.NumericOID:
		var n pgtype.Numeric
		m := pgTypeMaps.Get().(*pgtype.Map)
		defer pgTypeMaps.Put(m)
		if err := m.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, raw, &n); err != nil {
			return nil, err
		}
		f, err := n.Float64Value()
		if err != nil || !f.Valid {
			return nil, fmt.Errorf("numeric parameter: %v", err)
		}
		return f.Float64, nil
	case pgtype.DateOID:
		if err := size(4); err != nil {
			return nil, err
		}
		return pgEpoch.AddDate(0, 0, int(int32(binary.BigEndian.Uint32(raw)))), nil
	case pgtype.TimestampOID, pgtype.TimestamptzOID:
		if err := size(8); err != nil {
			return nil, err
		}
		us := int64(binary.BigEndian.Uint64(raw))
		return time.UnixMicro(pgEpoch.UnixMicro() + us).UTC(), nil
	case pgtype.UUIDOID:
		if err := size(16); err != nil {
			return nil, err
		}
		h := hex.EncodeToString(raw)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	case pgtype.ByteaOID:
		return append([]byte(nil), raw...), nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.JSONOID, pgtype.JSONBOID, 0:
		if oid == pgtype.JSONBOID && len(raw) > 0 && raw[0] == 1 {
			raw = raw[1:]
		}
		return string(raw), nil
	}
	return nil, fmt.Errorf("eddy cannot read type OID %d in binary format; send it in text format", oid)
}
