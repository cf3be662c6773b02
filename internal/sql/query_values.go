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
	case int8, int16, int32, int, uint8, uint16, uint32:
		i, _ := smallInt(v)
		return i
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
	if s, ok := NonFinite(f); ok {
		return s
	}
	return f
}

// NonFinite spells NaN and the infinities as PostgreSQL does (and the JSON results, which
// have no number for them); ok is false for a finite f.
func NonFinite(f float64) (s string, ok bool) {
	switch {
	case math.IsNaN(f):
		return "NaN", true
	case math.IsInf(f, 1):
		return "Infinity", true
	case math.IsInf(f, -1):
		return "-Infinity", true
	}
	return "", false
}

// formatInterval prints an interval as DuckDB does: "1 year 2 months 3 days 04:05:06.5".
func formatInterval(iv duckdb.Interval) string {
	return Interval{Months: iv.Months, Days: iv.Days, Micros: iv.Micros}.Text("month", "months")
}

// smallInt widens the driver's integer types narrower than int64.
func smallInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int:
		return int64(v), true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	}
	return 0, false
}
