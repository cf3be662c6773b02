package server

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unsafe"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/tables"
)

// writeDecoder parses the body of a table write (see wire.AppendWriteRequest for its
// shape) into a tables.WriteRequest, without reflection: the write API is benchmarked
// beside the Go API, and encoding/json spent most of its time on maps and interfaces.
//
// It is strict: field names match exactly, a field or a dimension or measure name may
// appear once per object, strings must be valid UTF-8. A null value means the field (or
// the dimension or measure) is absent. Errors say where: "records[12].measures.usage:
// want ...". A decoder is reused across requests; what it returns is the writer's to
// keep (see recordMemory).
type writeDecoder struct {
	jsonScanner
	mem                    recordMemory
	dimNames, measureNames nameCache
}

// Where a value is: a record index, or one of these.
const (
	atCommon  = -1
	atRequest = -2
)

func (d *writeDecoder) decode(body []byte) (*tables.WriteRequest, error) {
	d.p, d.i, d.checkUTF8 = body, 0, true
	d.dimNames.reset()
	d.measureNames.reset()
	req := &tables.WriteRequest{}
	d.skipSpace()
	if d.peek() != '{' {
		return nil, d.syntaxError("the request body must be a JSON object with \"records\"")
	}
	d.i++
	var seenCommon, seenRecords bool
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var name []byte
		if name, err = d.memberName(); err != nil {
			return nil, err
		}
		switch string(name) {
		case "common":
			if seenCommon {
				return nil, d.syntaxError("field \"common\" appears twice")
			}
			seenCommon = true
			if d.null() {
				continue
			}
			if d.peek() != '{' {
				return nil, d.typeError(atRequest, "common", "", "an object")
			}
			err = d.record(&req.Common, atCommon)
		case "records":
			if seenRecords {
				return nil, d.syntaxError("field \"records\" appears twice")
			}
			seenRecords = true
			err = d.records(req)
		default:
			return nil, apierr.New(apierr.Invalid, "UnknownField", "unknown field %q; a write body has \"common\" and \"records\"", name)
		}
	}
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i < len(d.p) {
		return nil, d.syntaxError("unexpected data after the JSON object")
	}
	return req, nil
}

func (d *writeDecoder) records(req *tables.WriteRequest) error {
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		return d.typeError(atRequest, "records", "", "an array")
	}
	d.i++
	d.skipSpace()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.skipSpace()
		n := len(req.Records)
		if n == tables.MaxRecordsPerWrite {
			return apierr.New(apierr.Invalid, tables.CodeTooManyRecords, "a write holds at most %d records; this one has more", tables.MaxRecordsPerWrite)
		}
		if d.peek() != '{' {
			return d.typeError(n, "", "", "an object")
		}
		start := d.i
		req.Records = append(req.Records, tables.Record{})
		if err := d.record(&req.Records[n], n); err != nil {
			return err
		}
		if n == 0 {
			// Make room for as many records as the rest of the body holds if they are
			// the size of the first, to save growing the slice step by step.
			est := min(len(d.p)/max(d.i-start, 1)+1, tables.MaxRecordsPerWrite)
			req.Records = slices.Grow(req.Records, est-1)
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntaxError("expected ',' or ']' after records[%d]", n)
		}
	}
}

// Record field bits, to reject a field given twice.
const (
	recTime = 1 << iota
	recTimeUnit
	recDimensions
	recMeasureName
	recValue
	recMeasures
	recVersion
)

// record parses the object at the current position into rec: records[n], or the
// common attributes for n == atCommon.
func (d *writeDecoder) record(rec *tables.Record, n int) error {
	d.i++ // '{'
	d.mem.beginRecord()
	var seen int
	nsTime := false // time was an RFC 3339 string, so it is in nanoseconds whatever the unit
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var name []byte
		if name, err = d.memberName(); err != nil {
			return err
		}
		var bit int
		switch string(name) {
		case "time":
			bit = recTime
		case "timeUnit":
			bit = recTimeUnit
		case "dimensions":
			bit = recDimensions
		case "measureName":
			bit = recMeasureName
		case "value":
			bit = recValue
		case "measures":
			bit = recMeasures
		case "version":
			bit = recVersion
		}
		if bit == 0 || bit == recTime && n == atCommon {
			if n == atCommon {
				return apierr.New(apierr.Invalid, "UnknownField", "common: unknown field %q; common has dimensions, timeUnit, measureName, value or measures, and version (each record has its own time)", name)
			}
			return apierr.New(apierr.Invalid, "UnknownField", "records[%d]: unknown field %q; a record has time, timeUnit, dimensions, measureName, value or measures, and version", n, name)
		}
		if seen&bit != 0 {
			return d.syntaxError("%s: field %q appears twice", where(n, "", ""), name)
		}
		if d.null() {
			continue
		}
		seen |= bit
		switch bit {
		case recTime:
			rec.Time, nsTime, err = d.time(n)
		case recTimeUnit:
			err = d.timeUnit(rec, n)
		case recDimensions:
			err = d.dimensions(n)
		case recMeasureName:
			if d.peek() != '"' {
				return d.typeError(n, "measureName", "", "a string")
			}
			var s []byte
			if s, err = d.str(); err == nil {
				rec.MeasureName = d.mem.name(s)
			}
		case recValue, recMeasures:
			if seen&(recValue|recMeasures) == recValue|recMeasures {
				return apierr.New(apierr.Invalid, tables.CodeInvalidRecord, "%s: give value (a single-measure record) or measures (a multi-measure record), not both", where(n, "", ""))
			}
			if bit == recValue {
				var v tables.Value
				var ok bool
				if v, ok, err = d.value(n, "value", ""); ok {
					d.mem.measures.add(tables.Measure{Value: v})
				}
			} else {
				err = d.measureMap(n)
			}
		case recVersion:
			rec.Version, err = d.integer(n, "version", "")
		}
	}
	if err != nil {
		return err
	}
	if n >= 0 && seen&recTime == 0 {
		return apierr.New(apierr.Invalid, tables.CodeInvalidRecord, "records[%d]: time is required: an integer in timeUnit units or an RFC 3339 string", n)
	}
	if nsTime {
		rec.TimeUnit = tables.Nanoseconds
	}
	rec.Dimensions = d.mem.dims.record()
	rec.Measures = d.mem.measures.record()
	if seen&recValue != 0 && len(rec.Measures) == 1 {
		rec.Measures[0].Name = rec.MeasureName
	}
	return nil
}

// time parses a record's time: an integer, or a string holding an integer or an RFC 3339
// time. ns reports the last, whose value is in nanoseconds.
func (d *writeDecoder) time(n int) (t int64, ns bool, err error) {
	switch c := d.peek(); {
	case c == '"':
		start := d.i
		s, err := d.str()
		if err != nil {
			return 0, false, err
		}
		if isInteger(s) {
			if t, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(s), len(s)), 10, 64); err == nil {
				return t, false, nil
			}
			return 0, false, d.invalid(start, n, "time", "", "%s does not fit in 64 bits", s)
		}
		tm, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(s), len(s)))
		if err != nil {
			return 0, false, d.invalid(start, n, "time", "", "%q is not an RFC 3339 time such as 2026-11-25T10:00:00.123Z, nor an integer", s)
		}
		if y := tm.Year(); y < 1678 || y > 2261 {
			return 0, false, d.invalid(start, n, "time", "", "%q is outside the years 1678 to 2261 that nanoseconds since 1970 in 64 bits can hold", s)
		}
		return tm.UnixNano(), true, nil
	case c == '-' || c >= '0' && c <= '9':
		t, err := d.integer(n, "time", "")
		return t, false, err
	}
	return 0, false, d.typeError(n, "time", "", "an integer or an RFC 3339 string")
}

func (d *writeDecoder) timeUnit(rec *tables.Record, n int) error {
	if d.peek() != '"' {
		return d.typeError(n, "timeUnit", "", "a string")
	}
	start := d.i
	s, err := d.str()
	if err != nil {
		return err
	}
	switch tables.TimeUnit(s) {
	case tables.Milliseconds:
		rec.TimeUnit = tables.Milliseconds
	case tables.Seconds:
		rec.TimeUnit = tables.Seconds
	case tables.Microseconds:
		rec.TimeUnit = tables.Microseconds
	case tables.Nanoseconds:
		rec.TimeUnit = tables.Nanoseconds
	default:
		return d.invalid(start, n, "timeUnit", "", "%q is not MILLISECONDS, SECONDS, MICROSECONDS or NANOSECONDS", s)
	}
	return nil
}

// integer parses a JSON number without fraction or exponent that fits an int64.
func (d *writeDecoder) integer(n int, field, key string) (int64, error) {
	c := d.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, d.typeError(n, field, key, "an integer")
	}
	start := d.i
	num, isInt, err := d.number()
	if err != nil {
		return 0, err
	}
	if !isInt {
		return 0, d.invalid(start, n, field, key, "want an integer, got %s", num)
	}
	v, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(num), len(num)), 10, 64)
	if err != nil {
		return 0, d.invalid(start, n, field, key, "%s does not fit in 64 bits", num)
	}
	return v, nil
}

func (d *writeDecoder) dimensions(n int) error {
	if d.peek() != '{' {
		return d.typeError(n, "dimensions", "", "an object of names to string values")
	}
	d.i++
	same := true
	j := 0
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var key []byte
		if key, err = d.memberName(); err != nil {
			return err
		}
		var name string
		var dup bool
		if name, same, dup = d.dimNames.name(&d.mem, j, key, same); dup {
			return d.syntaxError("%s: dimension %q appears twice", where(n, "dimensions", ""), name)
		}
		j++
		if d.null() {
			continue
		}
		if d.peek() != '"' {
			return d.typeError(n, "dimensions", name, "a string")
		}
		var v []byte
		if v, err = d.str(); err != nil {
			return err
		}
		d.mem.dims.add(tables.Dimension{Name: name, Value: d.dimNames.value(&d.mem, j-1, v)})
	}
	return err
}

func (d *writeDecoder) measureMap(n int) error {
	if d.peek() != '{' {
		return d.typeError(n, "measures", "", "an object of measure names to values")
	}
	d.i++
	same := true
	j := 0
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var key []byte
		if key, err = d.memberName(); err != nil {
			return err
		}
		if len(key) == 0 {
			return d.invalid(d.i, n, "measures", "", "a measure needs a name")
		}
		var name string
		var dup bool
		if name, same, dup = d.measureNames.name(&d.mem, j, key, same); dup {
			return d.syntaxError("%s: measure %q appears twice", where(n, "measures", ""), name)
		}
		j++
		var v tables.Value
		var ok bool
		if v, ok, err = d.value(n, "measures", name); ok {
			d.mem.measures.add(tables.Measure{Name: name, Value: v})
		}
	}
	return err
}

// value parses a measure value: a number (double), string (varchar), boolean or typed
// object. ok is false for null, an absent value.
func (d *writeDecoder) value(n int, field, key string) (v tables.Value, ok bool, err error) {
	switch c := d.peek(); {
	case c == '"':
		s, err := d.str()
		return tables.Value{Type: tables.Varchar, S: d.mem.str(s)}, err == nil, err
	case c == '-' || c >= '0' && c <= '9':
		f, err := d.double(n, field, key)
		return tables.Value{Type: tables.Double, F: f}, err == nil, err
	case c == 't' || c == 'f':
		b, err := d.boolean()
		return tables.Value{Type: tables.Boolean, B: b}, err == nil, err
	case c == 'n':
		if d.null() {
			return tables.Value{}, false, nil
		}
	case c == '{':
		v, err := d.typed(n, field, key)
		return v, err == nil, err
	}
	return tables.Value{}, false, d.typeError(n, field, key, "a number, string, boolean or typed value")
}

// typed parses {"type": T, "value": V}. The value may come first; it is then parsed once
// the type is known.
func (d *writeDecoder) typed(n int, field, key string) (tables.Value, error) {
	start := d.i
	d.i++
	var typ tables.ColumnType
	valueAt := -1
	seenValue := false
	var v tables.Value
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var name []byte
		if name, err = d.memberName(); err != nil {
			return v, err
		}
		switch string(name) {
		case "type":
			if typ != "" {
				return v, d.syntaxError("%s: field \"type\" appears twice", where(n, field, key))
			}
			if d.peek() != '"' {
				return v, d.typeError(n, field, key, "a type name for \"type\"")
			}
			at := d.i
			var s []byte
			if s, err = d.str(); err != nil {
				return v, err
			}
			switch tables.ColumnType(s) {
			case tables.Double:
				typ = tables.Double
			case tables.BigInt:
				typ = tables.BigInt
			case tables.Varchar:
				typ = tables.Varchar
			case tables.Boolean:
				typ = tables.Boolean
			case tables.Timestamp:
				typ = tables.Timestamp
			default:
				return v, d.invalid(at, n, field, key, "type %q: want double, bigint, varchar, boolean or timestamp", s)
			}
			if valueAt >= 0 {
				end := d.i
				d.i = valueAt
				if v, err = d.typedValue(typ, n, field, key); err != nil {
					return v, err
				}
				d.i = end
			}
		case "value":
			if seenValue {
				return v, d.syntaxError("%s: field \"value\" appears twice", where(n, field, key))
			}
			seenValue = true
			if typ != "" {
				v, err = d.typedValue(typ, n, field, key)
				continue
			}
			valueAt = d.i
			err = d.skipScalar(n, field, key)
		default:
			return v, apierr.New(apierr.Invalid, "UnknownField", "%s: unknown field %q; a typed value has \"type\" and \"value\"", where(n, field, key), name)
		}
	}
	if err != nil {
		return v, err
	}
	if typ == "" {
		return v, d.invalid(start, n, field, key, "a typed value needs a \"type\": double, bigint, varchar, boolean or timestamp")
	}
	if v.Type == "" {
		return v, d.invalid(start, n, field, key, "a typed value needs a \"value\"")
	}
	return v, nil
}

// typedValue parses the value of a typed object of type typ. null is left as the zero
// Value, which typed reports as missing.
func (d *writeDecoder) typedValue(typ tables.ColumnType, n int, field, key string) (tables.Value, error) {
	if d.null() {
		return tables.Value{}, nil
	}
	start := d.i
	c := d.peek()
	isNum := c == '-' || c >= '0' && c <= '9'
	switch typ {
	case tables.Double:
		if isNum {
			f, err := d.double(n, field, key)
			return tables.DoubleValue(f), err
		}
		if c == '"' {
			s, err := d.str()
			if err != nil {
				return tables.Value{}, err
			}
			switch string(s) {
			case "NaN":
				return tables.DoubleValue(math.NaN()), nil
			case "Infinity":
				return tables.DoubleValue(math.Inf(1)), nil
			case "-Infinity":
				return tables.DoubleValue(math.Inf(-1)), nil
			}
			return tables.Value{}, d.invalid(start, n, field, key, "a double is a number, or \"NaN\", \"Infinity\" or \"-Infinity\"; got %q", s)
		}
		return tables.Value{}, d.typeError(n, field, key, "a number for a double")
	case tables.BigInt:
		if isNum {
			i, err := d.integer(n, field, key)
			return tables.BigIntValue(i), err
		}
		if c == '"' {
			s, err := d.str()
			if err != nil {
				return tables.Value{}, err
			}
			i, perr := strconv.ParseInt(unsafe.String(unsafe.SliceData(s), len(s)), 10, 64)
			if perr != nil || !isInteger(s) {
				return tables.Value{}, d.invalid(start, n, field, key, "%q is not a decimal integer that fits a bigint (64 bits)", s)
			}
			return tables.BigIntValue(i), nil
		}
		return tables.Value{}, d.typeError(n, field, key, "an integer (or a decimal string) for a bigint")
	case tables.Varchar:
		if c != '"' {
			return tables.Value{}, d.typeError(n, field, key, "a string for a varchar")
		}
		s, err := d.str()
		return tables.VarcharValue(d.mem.str(s)), err
	case tables.Boolean:
		if c != 't' && c != 'f' {
			return tables.Value{}, d.typeError(n, field, key, "true or false for a boolean")
		}
		b, err := d.boolean()
		return tables.BooleanValue(b), err
	default: // tables.Timestamp
		if isNum {
			i, err := d.integer(n, field, key)
			return tables.Value{Type: tables.Timestamp, I: i}, err
		}
		if c != '"' {
			return tables.Value{}, d.typeError(n, field, key, "nanoseconds since 1970 or an RFC 3339 string for a timestamp")
		}
		s, err := d.str()
		if err != nil {
			return tables.Value{}, err
		}
		tm, perr := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(s), len(s)))
		if perr != nil {
			return tables.Value{}, d.invalid(start, n, field, key, "%q is not an RFC 3339 time such as 2026-11-25T10:00:00Z", s)
		}
		if y := tm.Year(); y < 1678 || y > 2261 {
			return tables.Value{}, d.invalid(start, n, field, key, "%q is outside the years 1678 to 2261 that a timestamp holds", s)
		}
		return tables.TimestampValue(tm), nil
	}
}

// double parses a JSON number as a double.
func (d *writeDecoder) double(n int, field, key string) (float64, error) {
	start := d.i
	num, _, err := d.number()
	if err != nil {
		return 0, err
	}
	if f, ok := exactDouble(num); ok {
		return f, nil
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil {
		return 0, d.invalid(start, n, field, key, "%s is beyond the range of a double", num)
	}
	return f, nil
}

// pow10 holds the powers of ten a double represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// exactDouble converts a JSON number of at most 15 digits and no exponent, such as
// 58 or -2.5, the common case. Both the digits as an integer and the power of ten are
// exact doubles then, so their quotient is correctly rounded: what ParseFloat returns,
// in a fraction of its time.
func exactDouble(num []byte) (float64, bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for i, c := range num {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
		case c == '.':
			frac = len(num) - i - 1
		default:
			return 0, false
		}
	}
	if digits > 15 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// skipScalar skips a string, number, boolean or null, the values a typed object holds.
func (d *writeDecoder) skipScalar(n int, field, key string) error {
	switch c := d.peek(); {
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		_, _, err := d.number()
		return err
	case c == 't' || c == 'f':
		_, err := d.boolean()
		return err
	case c == 'n' && d.null():
		return nil
	}
	return d.typeError(n, field, key, "a number, string or boolean for \"value\"")
}

// isInteger reports whether s is an optional minus and one or more digits.
func isInteger(s []byte) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// where names a place in a write body for an error: records[12].measures.usage.
func where(n int, field, key string) string {
	var b strings.Builder
	switch n {
	case atRequest:
	case atCommon:
		b.WriteString("common")
	default:
		fmt.Fprintf(&b, "records[%d]", n)
	}
	if field != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(field)
	}
	if key != "" {
		if plainKey(key) {
			b.WriteByte('.')
			b.WriteString(key)
		} else {
			fmt.Fprintf(&b, "[%q]", key)
		}
	}
	return b.String()
}

func plainKey(s string) bool {
	for _, r := range s {
		if r != '_' && r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// invalid reports a value at byte offset at that has the right JSON type but is not
// acceptable: InvalidRecord.
func (d *writeDecoder) invalid(at, n int, field, key, format string, args ...any) error {
	return apierr.New(apierr.Invalid, tables.CodeInvalidRecord, "%s: %s (byte offset %d)", where(n, field, key), fmt.Sprintf(format, args...), at)
}

// typeError reports a value of the wrong JSON type: InvalidRecord inside a record,
// MalformedJSON for the request's own fields.
func (d *writeDecoder) typeError(n int, field, key, want string) error {
	var got string
	switch c := d.peek(); {
	case c == '"':
		got = "a string"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == 'n':
		got = "null"
	case c == '-' || c >= '0' && c <= '9':
		got = "a number"
	default:
		return d.syntaxError("%s: expected %s", where(n, field, key), want)
	}
	code := tables.CodeInvalidRecord
	if n == atRequest {
		code = "MalformedJSON"
	}
	return apierr.New(apierr.Invalid, code, "%s: want %s, got %s (byte offset %d)", where(n, field, key), want, got, d.i)
}
