package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/streams"
)

// putDecoder parses the body of a put, wire.PutRecordsRequest, into streams records.
//
// It exists because encoding/json spent most of the server's CPU on this one body (a
// 500-record put is 500 objects and 500 base64 strings). It is as strict as
// encoding/json with DisallowUnknownFields, and stricter in two ways: field names match
// exactly (encoding/json ignores case) and a field may appear once per object. A null
// value means the field is absent.
//
// A decoder is reused across requests (see putPool), so decoding allocates only one
// string holding every partition key, and the producer ids.
type putDecoder struct {
	jsonScanner
	recs []streams.Record
	// arena holds the payload of every record; spans says where each record's key and
	// payload are, so the records' slices are set only once the arena stops growing.
	arena []byte
	keys  []byte
	spans []recordSpan
}

type recordSpan struct{ keyStart, keyEnd, dataStart, dataEnd int }

// Field bits, to reject a field given twice.
const (
	fieldKey = 1 << iota
	fieldData
	fieldText
	fieldProducerID
	fieldEventTime
)

// decode parses body; the records it returns are valid until the next decode.
func (d *putDecoder) decode(body []byte) ([]streams.Record, error) {
	d.p, d.i = body, 0
	d.recs, d.arena, d.keys, d.spans = d.recs[:0], d.arena[:0], d.keys[:0], d.spans[:0]
	if err := d.request(); err != nil {
		return nil, err
	}
	keys := string(d.keys)
	for i := range d.recs {
		sp := d.spans[i]
		d.recs[i].PartitionKey = keys[sp.keyStart:sp.keyEnd]
		d.recs[i].Data = d.arena[sp.dataStart:sp.dataEnd:sp.dataEnd]
	}
	return d.recs, nil
}

// request parses {"records": [...]}.
func (d *putDecoder) request() error {
	d.skipSpace()
	if err := d.expect('{', "the request body must be a JSON object"); err != nil {
		return err
	}
	seen := false
	err := d.object(func(name []byte) error {
		if string(name) != "records" {
			return apierr.New(apierr.Invalid, "UnknownField", "unknown field %q; a put body has only \"records\"", name)
		}
		if seen {
			return d.syntaxError("field \"records\" appears twice")
		}
		seen = true
		return d.records()
	})
	if err != nil {
		return err
	}
	d.skipSpace()
	if d.i < len(d.p) {
		return d.syntaxError("unexpected data after the JSON object")
	}
	return nil
}

// object parses the members of an object whose '{' was consumed, calling field with
// each name (valid until the next call) positioned at its value.
func (d *putDecoder) object(field func(name []byte) error) error {
	more, err := d.openObject()
	for ; more; more, err = d.nextMember(err) {
		var name []byte
		if name, err = d.memberName(); err != nil {
			return err
		}
		err = field(name)
	}
	return err
}

func (d *putDecoder) records() error {
	if d.null() {
		return nil
	}
	if d.peek() != '[' {
		return d.typeError("records", "an array")
	}
	d.i++
	d.skipSpace()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.skipSpace()
		if len(d.recs) == streams.MaxRecordsPerPut {
			return apierr.New(apierr.TooLarge, "TooManyRecords", "a put holds at most %d records; this one has more", streams.MaxRecordsPerPut)
		}
		if err := d.record(len(d.recs)); err != nil {
			return err
		}
		d.skipSpace()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntaxError("expected ',' or ']' after record %d", len(d.recs)-1)
		}
	}
}

func (d *putDecoder) record(n int) error {
	if d.peek() != '{' {
		return d.typeError(fmt.Sprintf("record %d", n), "an object")
	}
	d.i++
	d.recs = append(d.recs, streams.Record{})
	rec := &d.recs[n]
	span := recordSpan{keyStart: len(d.keys), keyEnd: len(d.keys), dataStart: len(d.arena), dataEnd: len(d.arena)}
	var seen int
	err := d.object(func(name []byte) error {
		var bit int
		switch string(name) {
		case "partitionKey":
			bit = fieldKey
		case "data":
			bit = fieldData
		case "text":
			bit = fieldText
		case "producerId":
			bit = fieldProducerID
		case "eventTime":
			bit = fieldEventTime
		default:
			return apierr.New(apierr.Invalid, "UnknownField", "record %d: unknown field %q; a record has partitionKey, data or text, producerId and eventTime", n, name)
		}
		if seen&bit != 0 {
			return d.syntaxError("record %d: field %q appears twice", n, name)
		}
		if d.null() {
			return nil
		}
		seen |= bit
		if d.peek() != '"' {
			return d.typeError(fmt.Sprintf("record %d: %s", n, name), "a string")
		}
		if bit == fieldData && seen&fieldText != 0 || bit == fieldText && seen&fieldData != 0 {
			return apierr.New(apierr.Invalid, "DataAndText", "record %d: give data or text, not both", n)
		}
		switch bit {
		case fieldKey:
			key, err := d.text(n, "partitionKey")
			if err != nil {
				return err
			}
			span.keyStart = len(d.keys)
			d.keys = append(d.keys, key...)
			span.keyEnd = len(d.keys)
		case fieldText:
			text, err := d.text(n, "text")
			if err != nil {
				return err
			}
			span.dataStart = len(d.arena)
			d.arena = append(d.arena, text...)
			span.dataEnd = len(d.arena)
		case fieldData:
			span.dataStart = len(d.arena)
			if err := d.appendBase64(n); err != nil {
				return err
			}
			span.dataEnd = len(d.arena)
		case fieldProducerID:
			id, err := d.text(n, "producerId")
			if err != nil {
				return err
			}
			rec.ProducerID = string(id)
		case fieldEventTime:
			raw, err := d.str()
			if err != nil {
				return err
			}
			t, err := time.Parse(time.RFC3339Nano, unsafe.String(unsafe.SliceData(raw), len(raw)))
			if err != nil {
				return apierr.New(apierr.Invalid, "InvalidEventTime", "record %d: eventTime %q is not an RFC 3339 time such as 2025-01-02T15:04:05.123Z", n, raw)
			}
			rec.EventTime = t
		}
		return nil
	})
	d.spans = append(d.spans, span)
	return err
}

// text consumes the string at the current position, which must be valid UTF-8.
func (d *putDecoder) text(rec int, field string) ([]byte, error) {
	s, err := d.str()
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(s) {
		return nil, apierr.New(apierr.Invalid, "MalformedJSON", "record %d: %s is not valid UTF-8", rec, field)
	}
	return s, nil
}

// appendBase64 decodes the base64 string at the current position onto the arena.
func (d *putDecoder) appendBase64(rec int) error {
	// Fast path: base64 has no characters JSON escapes, so decode up to the next quote
	// directly. The decoder rejects a backslash or control character, except that it
	// skips CR and LF, which JSON forbids raw; a decoded length short of what the
	// string's length implies reveals them. Anything unusual takes the careful path.
	start := len(d.arena)
	if end := bytes.IndexByte(d.p[d.i+1:], '"'); end >= 0 {
		raw := d.p[d.i+1 : d.i+1+end]
		if n, err := d.decodeBase64(raw); err == nil && len(raw)%4 == 0 && n == len(raw)/4*3-padding(raw) {
			d.arena = d.arena[:start+n]
			d.i += end + 2
			return nil
		}
	}
	raw, err := d.str()
	if err != nil {
		return err
	}
	n, err := d.decodeBase64(raw)
	if err != nil {
		var corrupt base64.CorruptInputError
		if errors.As(err, &corrupt) {
			return apierr.New(apierr.Invalid, "InvalidBase64", "record %d: data: illegal base64 at byte %d of the string; data must be standard base64 with padding (use text for UTF-8)", rec, int64(corrupt))
		}
		return apierr.New(apierr.Invalid, "InvalidBase64", "record %d: data: %v", rec, err)
	}
	d.arena = d.arena[:start+n]
	return nil
}

// decodeBase64 decodes raw into the arena's spare capacity, leaving its length alone.
func (d *putDecoder) decodeBase64(raw []byte) (int, error) {
	start := len(d.arena)
	d.arena = slices.Grow(d.arena, base64.StdEncoding.DecodedLen(len(raw)))
	return base64.StdEncoding.Decode(d.arena[start:cap(d.arena)], raw)
}

func padding(raw []byte) int {
	n := 0
	for i := len(raw) - 1; i >= 0 && raw[i] == '=' && n < 2; i-- {
		n++
	}
	return n
}

func (d *putDecoder) expect(c byte, problem string) error {
	if d.peek() != c {
		return d.syntaxError("%s", problem)
	}
	d.i++
	return nil
}

// typeError reports a value of the wrong JSON type for what.
func (d *putDecoder) typeError(what, want string) error {
	got := "a number"
	switch d.peek() {
	case '"':
		got = "a string"
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case 't', 'f':
		got = "a boolean"
	case 'n':
		got = "null"
	case 0:
		return d.syntaxError("expected %s for %s", want, what)
	default:
		if c := d.peek(); c != '-' && (c < '0' || c > '9') {
			return d.syntaxError("expected %s for %s", want, what)
		}
	}
	return errMalformed("%s: want %s, got %s (byte offset %d)", what, want, got, d.i)
}
