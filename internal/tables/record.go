package tables

import (
	"fmt"
	"math"
	"time"
)

// TimeUnit is the unit of a record's Time, counted from the Unix epoch.
type TimeUnit string

// The time units. The zero TimeUnit means milliseconds, as in Timestream.
const (
	Milliseconds TimeUnit = "MILLISECONDS"
	Seconds      TimeUnit = "SECONDS"
	Microseconds TimeUnit = "MICROSECONDS"
	Nanoseconds  TimeUnit = "NANOSECONDS"
)

// Nanos converts t, counted in unit u, to nanoseconds since the epoch. ok is false for
// an unknown unit or a time that does not fit in an int64 of nanoseconds.
func (u TimeUnit) Nanos(t int64) (ns int64, ok bool) {
	var mul int64
	switch u {
	case Milliseconds, "":
		mul = int64(time.Millisecond)
	case Seconds:
		mul = int64(time.Second)
	case Microseconds:
		mul = int64(time.Microsecond)
	case Nanoseconds:
		return t, true
	default:
		return 0, false
	}
	if t > (1<<63-1)/mul || t < -(1<<63-1)/mul {
		return 0, false
	}
	return t * mul, true
}

// Dimension is one of a record's dimensions: a name and a string value that, with the
// other dimensions, identify the series the record belongs to.
type Dimension struct {
	Name, Value string
}

// Value is one typed measure value. Type says which field holds it: F for double, I for
// bigint and for timestamp (nanoseconds since the epoch), S for varchar, B for boolean.
// The other fields are zero.
type Value struct {
	Type ColumnType
	F    float64
	I    int64
	S    string
	B    bool
}

// The constructors of the values of each type.
func DoubleValue(f float64) Value      { return Value{Type: Double, F: f} }
func BigIntValue(i int64) Value        { return Value{Type: BigInt, I: i} }
func VarcharValue(s string) Value      { return Value{Type: Varchar, S: s} }
func BooleanValue(b bool) Value        { return Value{Type: Boolean, B: b} }
func TimestampValue(t time.Time) Value { return Value{Type: Timestamp, I: t.UnixNano()} }

// Equal reports whether v and o are the same value of the same type. Doubles compare by
// their bits, so a NaN equals itself and 0 differs from -0: a repeat is identical only
// if it would read back the same.
func (v Value) Equal(o Value) bool {
	return v == o || (v.Type == Double && o.Type == Double && sameBits(v.F, o.F))
}

func (v Value) String() string {
	switch v.Type {
	case Double:
		return fmt.Sprint(v.F)
	case BigInt:
		return fmt.Sprint(v.I)
	case Varchar:
		return fmt.Sprintf("%q", v.S)
	case Boolean:
		return fmt.Sprint(v.B)
	case Timestamp:
		return time.Unix(0, v.I).UTC().Format(time.RFC3339Nano)
	}
	return "<no value>"
}

// Measure is one named measure value of a record.
type Measure struct {
	Name  string
	Value Value
}

// Record is one write: at Time, for the series its Dimensions identify, the measure
// MeasureName has the value Measures[0].Value (a single-measure record, where
// Measures[0].Name is MeasureName or empty) or the values of several measures at once (a
// multi-measure record).
//
// Identity is Dimensions + Time + MeasureName. Writing an identity again with identical
// values is a no-op; different values replace the stored ones only with a higher Version.
//
// Unlike Timestream, where a single-measure record's value is in a column called
// measure_value::<type>, eddy stores it in a column named after the measure, so single-
// and multi-measure records are queried alike.
type Record struct {
	// Time counts TimeUnit units since the Unix epoch. The zero TimeUnit is the request's
	// common one, or milliseconds.
	Time       int64
	TimeUnit   TimeUnit
	Dimensions []Dimension
	// MeasureName names the measure (single-measure record) or the set of measures
	// (multi-measure record). Empty means the request's common one.
	MeasureName string
	Measures    []Measure
	// Version orders writes of the same identity; 0 means the request's common version,
	// or 1.
	Version int64
}

// WriteRequest is a batch of up to MaxRecordsPerWrite records for one table. Common holds
// attributes shared by every record: its dimensions are added to each record's (a
// record's own dimension of the same name wins), and its time unit, measure name, measures
// and version fill in what a record leaves empty.
type WriteRequest struct {
	Common  Record
	Records []Record
}

// MaxRecordsPerWrite is the most records one write may carry.
const MaxRecordsPerWrite = 10_000

// Limits of a record, as in Timestream.
const (
	MaxDimensions        = 128
	MaxMeasuresPerRecord = 256
	MaxDimensionNameLen  = 60
	MaxMeasureNameLen    = 256
	MaxDimensionValueLen = 2048
	MaxVarcharValueLen   = 2048
	MaxFutureSkew        = 15 * time.Minute
	MaxColumnsPerTable   = 1024
)

// The stable codes of a write's rejected records and of its errors.
const (
	// CodeTooOld: the record is older than the memory retention and the table does not
	// take late writes into the magnetic tier (or it is older than the magnetic retention).
	CodeTooOld = "RecordTooOld"
	// CodeTooNew: the record is more than MaxFutureSkew ahead of the server's clock.
	CodeTooNew = "RecordTooNew"
	// CodeVersionConflict: the identity holds other values with a version at least as high.
	CodeVersionConflict = "VersionConflict"
	// CodeInvalidRecord: a bad name, value, time, unit or count of dimensions or measures.
	CodeInvalidRecord = "InvalidRecord"
	// CodeTooManyRecords: the request holds more than MaxRecordsPerWrite records.
	CodeTooManyRecords = "TooManyRecords"
)

// RejectedRecord says why the record at Index of a write was not stored.
type RejectedRecord struct {
	Index  int
	Code   string
	Reason string
	// ExistingVersion is the stored version, for a VersionConflict.
	ExistingVersion int64
}

// WriteResult is the outcome of a write: the records stored (or found identical), and
// the rejected ones in index order. The rejections never stop the other records.
type WriteResult struct {
	// Memory and Magnetic count the records stored in each tier; Unchanged counts
	// identical repeats, which change nothing.
	Memory, Magnetic, Unchanged int
	Rejected                    []RejectedRecord
}

func sameBits(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
