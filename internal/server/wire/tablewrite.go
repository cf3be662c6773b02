package wire

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/eddy-streams/eddy/internal/tables"
)

// The body of POST /v1/databases/{db}/tables/{table}/records is a tables.WriteRequest
// in JSON, which AppendWriteRequest writes and the server decodes by hand (it has no Go
// type here because a value is a number, string, boolean or typed object):
//
//	{"common": {"dimensions": {"region": "eu-west"}, "timeUnit": "MILLISECONDS", "measureName": "cpu", "version": 1},
//	 "records": [
//	   {"time": 1764000000000, "dimensions": {"host": "a"}, "measures": {"usage_user": 58, "usage_system": 2.5}, "version": 2},
//	   {"time": "2026-11-25T10:00:00Z", "dimensions": {"host": "b"}, "measureName": "temperature", "value": 21.5},
//	   {"time": 1764000000000, "dimensions": {"host": "c"}, "measureName": "status", "value": {"type": "varchar", "value": "ok"}}
//	 ]}
//
// See the server's route documentation for the rules.

// WriteRecordsResponse is the body of a table write's 200 answer. The records not listed
// in RejectedRecords were stored (or found identical): a rejection never fails the rest.
type WriteRecordsResponse struct {
	RecordsIngested RecordsIngested `json:"recordsIngested"`
	// Unchanged counts records identical to stored ones, which change nothing.
	Unchanged int `json:"unchanged"`
	// RejectedRecords are in index order; never null.
	RejectedRecords []RejectedRecord `json:"rejectedRecords"`
}

// RecordsIngested counts the records a write stored, in all and per tier.
type RecordsIngested struct {
	Total         int `json:"total"`
	MemoryStore   int `json:"memoryStore"`
	MagneticStore int `json:"magneticStore"`
}

// RejectedRecord says why the record at Index (counted from 0 in the request's records)
// was not stored. Code is one of the tables.Code* rejection codes.
type RejectedRecord struct {
	Index  int    `json:"index"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
	// ExistingVersion is the stored version, for a VersionConflict.
	ExistingVersion int64 `json:"existingVersion,omitempty"`
}

// WriteResponse is the wire form of a write's result.
func WriteResponse(res tables.WriteResult) WriteRecordsResponse {
	out := WriteRecordsResponse{
		RecordsIngested: RecordsIngested{Total: res.Memory + res.Magnetic, MemoryStore: res.Memory, MagneticStore: res.Magnetic},
		Unchanged:       res.Unchanged,
		RejectedRecords: make([]RejectedRecord, len(res.Rejected)),
	}
	for i, r := range res.Rejected {
		out.RejectedRecords[i] = RejectedRecord{Index: r.Index, Code: r.Code, Reason: r.Reason, ExistingVersion: r.ExistingVersion}
	}
	return out
}

// Result is r as a tables.WriteResult, the inverse of WriteResponse.
func (r WriteRecordsResponse) Result() tables.WriteResult {
	res := tables.WriteResult{Memory: r.RecordsIngested.MemoryStore, Magnetic: r.RecordsIngested.MagneticStore, Unchanged: r.Unchanged}
	for _, rej := range r.RejectedRecords {
		res.Rejected = append(res.Rejected, tables.RejectedRecord{Index: rej.Index, Code: rej.Code, Reason: rej.Reason, ExistingVersion: rej.ExistingVersion})
	}
	return res
}

// AppendWriteRequest appends req as a write body. Doubles are plain numbers (NaN and
// the infinities, which JSON lacks, typed objects with a string value), varchars and
// booleans plain strings and booleans, bigints and timestamps (nanoseconds) typed
// objects. A record with one measure named like the record, or unnamed, is written with
// "value". Common.Time is not written: the model takes each record's own time.
func AppendWriteRequest(b []byte, req *tables.WriteRequest) []byte {
	b = append(b, '{')
	c := &req.Common
	if c.TimeUnit != "" || len(c.Dimensions) > 0 || c.MeasureName != "" || len(c.Measures) > 0 || c.Version != 0 {
		b = append(b, `"common":`...)
		b = appendRecord(b, c, false)
		b = append(b, ',')
	}
	b = append(b, `"records":[`...)
	for i := range req.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecord(b, &req.Records[i], true)
	}
	return append(b, "]}"...)
}

func appendRecord(b []byte, r *tables.Record, withTime bool) []byte {
	b = append(b, '{')
	sep := false
	field := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if withTime {
		field("time")
		b = strconv.AppendInt(b, r.Time, 10)
	}
	if r.TimeUnit != "" {
		field("timeUnit")
		b = AppendString(b, string(r.TimeUnit))
	}
	if len(r.Dimensions) > 0 {
		field("dimensions")
		b = append(b, '{')
		for i, d := range r.Dimensions {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, d.Name)
			b = append(b, ':')
			b = AppendString(b, d.Value)
		}
		b = append(b, '}')
	}
	if r.MeasureName != "" {
		field("measureName")
		b = AppendString(b, r.MeasureName)
	}
	switch {
	case len(r.Measures) == 1 && (r.Measures[0].Name == "" || r.Measures[0].Name == r.MeasureName):
		field("value")
		b = appendValue(b, r.Measures[0].Value)
	case len(r.Measures) > 0:
		field("measures")
		b = append(b, '{')
		for i, m := range r.Measures {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, m.Name)
			b = append(b, ':')
			b = appendValue(b, m.Value)
		}
		b = append(b, '}')
	}
	if r.Version != 0 {
		field("version")
		b = strconv.AppendInt(b, r.Version, 10)
	}
	return append(b, '}')
}

func appendValue(b []byte, v tables.Value) []byte {
	switch v.Type {
	case tables.Double:
		switch {
		case math.IsNaN(v.F):
			return append(b, `{"type":"double","value":"NaN"}`...)
		case math.IsInf(v.F, 1):
			return append(b, `{"type":"double","value":"Infinity"}`...)
		case math.IsInf(v.F, -1):
			return append(b, `{"type":"double","value":"-Infinity"}`...)
		}
		return strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case tables.Varchar:
		return AppendString(b, v.S)
	case tables.Boolean:
		return strconv.AppendBool(b, v.B)
	case tables.BigInt, tables.Timestamp:
		b = append(b, `{"type":"`...)
		b = append(b, v.Type...)
		b = append(b, `","value":`...)
		b = strconv.AppendInt(b, v.I, 10)
		return append(b, '}')
	}
	// Not a type the server knows: it answers InvalidRecord naming it.
	b = append(b, `{"type":`...)
	b = AppendString(b, string(v.Type))
	return append(b, `,"value":null}`...)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, replacing invalid UTF-8 with U+FFFD as
// encoding/json does. The server's hand-written responses use it too.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
