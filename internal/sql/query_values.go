package sql

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// converter returns the function that makes a value of a column of DuckDB type typ
// JSON-ready (see Result.Rows).
func converter(typ string) func(any) any {
	switch {
	case typ == "DATE":
		return timeAs("2006-01-02")
	case typ == "TIME" || typ == "TIMETZ" || strings.HasPrefix(typ, "TIME WITH"):
		return timeAs("15:04:05.999999999")
	case typ == "UUID":
		return func(v any) any {
			if b, ok := v.([]byte); ok && len(b) == 16 {
				h := fmt.Sprintf("%x", b)
				return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
			}
			return jsonValue(v)
		}
	}
	return jsonValue
}

func timeAs(layout string) func(any) any {
	return func(v any) any {
		if t, ok := v.(time.Time); ok {
			return t.UTC().Format(layout)
		}
		return jsonValue(v)
	}
}

// jsonValue makes a value the driver returns JSON-ready, nested values included.
func jsonValue(v any) any {
	switch v := v.(type) {
	case nil, bool, string, int64:
		return v
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case int:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case uint64:
		if v > math.MaxInt64 {
			return strconv.FormatUint(v, 10)
		}
		return int64(v)
	case *big.Int:
		if v.IsInt64() {
			return v.Int64()
		}
		return v.String()
	case float32:
		// Through its shortest decimal form, so that 1.1::FLOAT stays 1.1.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v), 'g', -1, 32), 64)
		return jsonFloat(f)
	case float64:
		return jsonFloat(v)
	case duckdb.Decimal:
		return json.Number(v.String())
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case duckdb.Interval:
		return formatInterval(v)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case duckdb.OrderedMap:
		out := make(map[string]any, v.Len())
		vals := v.Values()
		for i, k := range v.Keys() {
			out[fmt.Sprint(jsonValue(k))] = jsonValue(vals[i])
		}
		return out
	case duckdb.Union:
		return jsonValue(v.Value)
	}
	return fmt.Sprint(v)
}

func jsonFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// formatInterval prints an interval as DuckDB does: "1 year 2 months 3 days 04:05:06.5".
func formatInterval(iv duckdb.Interval) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		if n != 1 && n != -1 {
			name += "s"
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, name))
	}
	unit(int64(iv.Months/12), "year")
	unit(int64(iv.Months%12), "month")
	unit(int64(iv.Days), "day")
	if iv.Micros != 0 || len(parts) == 0 {
		us := iv.Micros
		sign := ""
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
