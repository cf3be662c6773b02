package tables

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// row is a record as the write path keeps it once checked: time in nanoseconds, the
// common attributes merged in, dimensions and measures sorted by name.
type row struct {
	index       int
	time        int64
	measureName string
	version     int64
	dims        []Dimension
	measures    []Measure
}

// reserved are column names a dimension or measure may not take, in any case (DuckDB's
// identifiers are case-insensitive): the view's fixed columns, and the magnetic files'
// internal ones.
var reserved = map[string]bool{"time": true, "measure_name": true, "_version": true, "_seq": true, "_sid": true}

// normalizer turns a request's records into rows, reusing its buffers between requests.
// Rows whose dimensions or measures had to be merged or sorted get them in the
// normalizer's arenas, valid until reset; the others keep the record's own slices.
type normalizer struct {
	dims     []Dimension
	measures []Measure
	rows     []row
	rejected []RejectedRecord
	// prevDims and prevMeasures are the names of the last row that passed: a row with
	// the same names (the usual case: a batch of one kind of record) skips their checks.
	prevDims, prevMeasures []string
}

func (n *normalizer) reset() {
	n.dims, n.measures, n.rows, n.rejected = n.dims[:0], n.measures[:0], n.rows[:0], n.rejected[:0]
}

// sameNames reports whether ds or ms carry exactly the names in prev.
func sameDimNames(prev []string, ds []Dimension) bool {
	if len(prev) != len(ds) {
		return false
	}
	for i, d := range ds {
		if prev[i] != d.Name {
			return false
		}
	}
	return true
}

func sameMeasureNames(prev []string, ms []Measure) bool {
	if len(prev) != len(ms) {
		return false
	}
	for i, m := range ms {
		if prev[i] != m.Name {
			return false
		}
	}
	return true
}

// normalize checks rec (at index i of a request with common attributes c) and returns
// it as a row, or the reason it is rejected.
func (n *normalizer) normalize(i int, c *Record, rec *Record) (row, *RejectedRecord) {
	reject := func(code, format string, args ...any) (row, *RejectedRecord) {
		return row{}, &RejectedRecord{Index: i, Code: code, Reason: fmt.Sprintf(format, args...)}
	}
	r := row{index: i, measureName: rec.MeasureName, version: rec.Version}
	unit := rec.TimeUnit
	if unit == "" {
		unit = c.TimeUnit
	}
	t := rec.Time
	if t == 0 {
		t = c.Time
	}
	ns, ok := unit.Nanos(t)
	if !ok {
		return reject(CodeInvalidRecord, "time %d in unit %q is not a time eddy can store (units: MILLISECONDS, SECONDS, MICROSECONDS, NANOSECONDS)", t, unit)
	}
	r.time = ns
	if r.measureName == "" {
		r.measureName = c.MeasureName
	}
	if r.version == 0 {
		r.version = c.Version
	}
	if r.version == 0 {
		r.version = 1
	}
	if r.version < 0 {
		return reject(CodeInvalidRecord, "version %d is negative", r.version)
	}

	// Dimensions: the record's, plus the common ones it does not name.
	r.dims = rec.Dimensions
	if len(c.Dimensions) > 0 {
		start := len(n.dims)
		n.dims = append(n.dims, rec.Dimensions...)
		for _, d := range c.Dimensions {
			if !slices.ContainsFunc(rec.Dimensions, func(x Dimension) bool { return x.Name == d.Name }) {
				n.dims = append(n.dims, d)
			}
		}
		r.dims = n.dims[start:len(n.dims):len(n.dims)]
	}
	knownDims := sameDimNames(n.prevDims, r.dims)
	if !knownDims && !slices.IsSortedFunc(r.dims, cmpDim) {
		if len(c.Dimensions) == 0 {
			start := len(n.dims)
			n.dims = append(n.dims, r.dims...)
			r.dims = n.dims[start:len(n.dims):len(n.dims)]
		}
		slices.SortFunc(r.dims, cmpDim)
	}
	if len(r.dims) > MaxDimensions {
		return reject(CodeInvalidRecord, "%d dimensions; a record may have at most %d", len(r.dims), MaxDimensions)
	}
	for j, d := range r.dims {
		if !knownDims {
			if msg := checkColumnName(d.Name, MaxDimensionNameLen); msg != "" {
				return reject(CodeInvalidRecord, "dimension %q: %s", d.Name, msg)
			}
			if j > 0 && r.dims[j-1].Name == d.Name {
				return reject(CodeInvalidRecord, "dimension %q appears twice", d.Name)
			}
		}
		if d.Value == "" {
			return reject(CodeInvalidRecord, "dimension %q has an empty value", d.Name)
		}
		if len(d.Value) > MaxDimensionValueLen || !validUTF8(d.Value) || strings.IndexByte(d.Value, 0) >= 0 {
			return reject(CodeInvalidRecord, "dimension %q: the value must be valid UTF-8 without zero bytes, of at most %d bytes", d.Name, MaxDimensionValueLen)
		}
	}

	// Measures: the record's, or the common ones.
	r.measures = rec.Measures
	if len(r.measures) == 0 {
		r.measures = c.Measures
	}
	if r.measureName == "" {
		return reject(CodeInvalidRecord, "no measure name")
	}
	if msg := checkColumnName(r.measureName, MaxMeasureNameLen); msg != "" {
		return reject(CodeInvalidRecord, "measure name %q: %s", r.measureName, msg)
	}
	switch {
	case len(r.measures) == 0:
		return reject(CodeInvalidRecord, "measure %q has no value", r.measureName)
	case len(r.measures) == 1 && r.measures[0].Name == "":
		start := len(n.measures)
		n.measures = append(n.measures, Measure{Name: r.measureName, Value: r.measures[0].Value})
		r.measures = n.measures[start:len(n.measures):len(n.measures)]
	case len(r.measures) > MaxMeasuresPerRecord:
		return reject(CodeInvalidRecord, "%d measures; a record may have at most %d", len(r.measures), MaxMeasuresPerRecord)
	}
	knownMeasures := sameMeasureNames(n.prevMeasures, r.measures)
	if !knownMeasures && !slices.IsSortedFunc(r.measures, cmpMeasure) {
		start := len(n.measures)
		n.measures = append(n.measures, r.measures...)
		r.measures = n.measures[start:len(n.measures):len(n.measures)]
		slices.SortFunc(r.measures, cmpMeasure)
	}
	for j, m := range r.measures {
		if !knownMeasures {
			if msg := checkColumnName(m.Name, MaxMeasureNameLen); msg != "" {
				return reject(CodeInvalidRecord, "measure %q: %s", m.Name, msg)
			}
			if j > 0 && r.measures[j-1].Name == m.Name {
				return reject(CodeInvalidRecord, "measure %q appears twice", m.Name)
			}
		}
		if msg := checkValue(m.Value); msg != "" {
			return reject(CodeInvalidRecord, "measure %q: %s", m.Name, msg)
		}
	}
	if !knownDims {
		n.prevDims = n.prevDims[:0]
		for _, d := range r.dims {
			n.prevDims = append(n.prevDims, d.Name)
		}
	}
	if !knownMeasures {
		n.prevMeasures = n.prevMeasures[:0]
		for _, m := range r.measures {
			n.prevMeasures = append(n.prevMeasures, m.Name)
		}
	}
	return r, nil
}

// validUTF8 is utf8.ValidString with a fast path for ASCII.
func validUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

func cmpDim(a, b Dimension) int   { return strings.Compare(a.Name, b.Name) }
func cmpMeasure(a, b Measure) int { return strings.Compare(a.Name, b.Name) }
func isControl(r rune) bool       { return r < 0x20 || r == 0x7f }
func hasControl(s string) bool    { return strings.IndexFunc(s, isControl) >= 0 }

// checkColumnName returns why name cannot name a dimension or measure, or "".
func checkColumnName(name string, max int) string {
	switch {
	case name == "":
		return "a name is needed"
	case len(name) > max:
		return fmt.Sprintf("longer than %d bytes", max)
	case !validUTF8(name) || hasControl(name):
		return "names must be UTF-8 without control characters"
	case reserved[strings.ToLower(name)] || strings.HasPrefix(strings.ToLower(name), "_eddy"):
		return "the name is reserved"
	}
	return ""
}

// checkValue returns why v cannot be stored, or "".
func checkValue(v Value) string {
	switch v.Type {
	case Double:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return fmt.Sprintf("%v is not a finite number", v.F)
		}
	case BigInt, Boolean, Timestamp:
	case Varchar:
		if len(v.S) > MaxVarcharValueLen || !validUTF8(v.S) {
			return fmt.Sprintf("a varchar must be valid UTF-8 of at most %d bytes", MaxVarcharValueLen)
		}
	case "":
		return "no value type"
	default:
		return fmt.Sprintf("unknown type %q (the types are double, bigint, varchar, boolean and timestamp)", v.Type)
	}
	return ""
}
