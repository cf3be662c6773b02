package nexmark

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The JSON form of an event is the row of the Nexmark SQL source table: event_type and
// one nested object named for the kind, with the Java model's field names and times as
// integer Unix milliseconds. For example:
//
//	{"event_type":2,"bid":{"auction":1000,"bidder":1001,"price":4210,"channel":"Google",
//	 "url":"https://www.nexmark.com/…","dateTime":1704067200000,"extra":"…"}}
//
// The members of the other kinds are left out; DecodeJSON also accepts them as null,
// which is how Flink's JSON format writes the source row.

// fieldNames lists each kind's JSON field names, in encoding order; a field's index is
// its bit in the decoder's bookkeeping.
var fieldNames = [...][]string{
	KindPerson:  {"id", "name", "emailAddress", "creditCard", "city", "state", "dateTime", "extra"},
	KindAuction: {"id", "itemName", "description", "initialBid", "reserve", "dateTime", "expires", "seller", "category", "extra"},
	KindBid:     {"auction", "bidder", "price", "channel", "url", "dateTime", "extra"},
}

// field returns where field i of kind k lives in e: one of the two pointers is nil.
func field(e *Event, k Kind, i int) (*int64, *string) {
	switch k {
	case KindPerson:
		p := &e.Person
		switch i {
		case 0:
			return &p.ID, nil
		case 1:
			return nil, &p.Name
		case 2:
			return nil, &p.Email
		case 3:
			return nil, &p.CreditCard
		case 4:
			return nil, &p.City
		case 5:
			return nil, &p.State
		case 6:
			return &p.DateTime, nil
		default:
			return nil, &p.Extra
		}
	case KindAuction:
		a := &e.Auction
		switch i {
		case 0:
			return &a.ID, nil
		case 1:
			return nil, &a.ItemName
		case 2:
			return nil, &a.Description
		case 3:
			return &a.InitialBid, nil
		case 4:
			return &a.Reserve, nil
		case 5:
			return &a.DateTime, nil
		case 6:
			return &a.Expires, nil
		case 7:
			return &a.Seller, nil
		case 8:
			return &a.Category, nil
		default:
			return nil, &a.Extra
		}
	default:
		b := &e.Bid
		switch i {
		case 0:
			return &b.Auction, nil
		case 1:
			return &b.Bidder, nil
		case 2:
			return &b.Price, nil
		case 3:
			return nil, &b.Channel
		case 4:
			return nil, &b.URL
		case 5:
			return &b.DateTime, nil
		default:
			return nil, &b.Extra
		}
	}
}

// AppendJSON appends the JSON form of e to dst and returns the extended slice. It does
// not allocate beyond growing dst. Strings are escaped as JSON requires; invalid UTF-8
// bytes become U+FFFD, as encoding/json writes them. An Event whose Kind is none of the
// three is written as a record DecodeJSON rejects.
func AppendJSON(dst []byte, e *Event) []byte {
	switch e.Kind {
	case KindPerson:
		p := &e.Person
		dst = append(dst, `{"event_type":0,"person":{"id":`...)
		dst = strconv.AppendInt(dst, p.ID, 10)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, p.Name)
		dst = append(dst, `,"emailAddress":`...)
		dst = appendString(dst, p.Email)
		dst = append(dst, `,"creditCard":`...)
		dst = appendString(dst, p.CreditCard)
		dst = append(dst, `,"city":`...)
		dst = appendString(dst, p.City)
		dst = append(dst, `,"state":`...)
		dst = appendString(dst, p.State)
		dst = append(dst, `,"dateTime":`...)
		dst = strconv.AppendInt(dst, p.DateTime, 10)
		dst = append(dst, `,"extra":`...)
		dst = appendString(dst, p.Extra)
	case KindAuction:
		a := &e.Auction
		dst = append(dst, `{"event_type":1,"auction":{"id":`...)
		dst = strconv.AppendInt(dst, a.ID, 10)
		dst = append(dst, `,"itemName":`...)
		dst = appendString(dst, a.ItemName)
		dst = append(dst, `,"description":`...)
		dst = appendString(dst, a.Description)
		dst = append(dst, `,"initialBid":`...)
		dst = strconv.AppendInt(dst, a.InitialBid, 10)
		dst = append(dst, `,"reserve":`...)
		dst = strconv.AppendInt(dst, a.Reserve, 10)
		dst = append(dst, `,"dateTime":`...)
		dst = strconv.AppendInt(dst, a.DateTime, 10)
		dst = append(dst, `,"expires":`...)
		dst = strconv.AppendInt(dst, a.Expires, 10)
		dst = append(dst, `,"seller":`...)
		dst = strconv.AppendInt(dst, a.Seller, 10)
		dst = append(dst, `,"category":`...)
		dst = strconv.AppendInt(dst, a.Category, 10)
		dst = append(dst, `,"extra":`...)
		dst = appendString(dst, a.Extra)
	case KindBid:
		b := &e.Bid
		dst = append(dst, `{"event_type":2,"bid":{"auction":`...)
		dst = strconv.AppendInt(dst, b.Auction, 10)
		dst = append(dst, `,"bidder":`...)
		dst = strconv.AppendInt(dst, b.Bidder, 10)
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendInt(dst, b.Price, 10)
		dst = append(dst, `,"channel":`...)
		dst = appendString(dst, b.Channel)
		dst = append(dst, `,"url":`...)
		dst = appendString(dst, b.URL)
		dst = append(dst, `,"dateTime":`...)
		dst = strconv.AppendInt(dst, b.DateTime, 10)
		dst = append(dst, `,"extra":`...)
		dst = appendString(dst, b.Extra)
	default:
		dst = append(dst, `{"event_type":`...)
		dst = strconv.AppendInt(dst, int64(e.Kind), 10)
		return append(dst, '}')
	}
	return append(dst, "}}"...)
}

// plain marks the bytes a JSON string holds as they are: not a quote, a backslash, a
// control character or part of a multi-byte UTF-8 sequence.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, `\n`...)
		case '\r':
			dst = append(dst, `\r`...)
		case '\t':
			dst = append(dst, `\t`...)
		default:
			if c >= utf8.RuneSelf {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DecodeError is a record DecodeJSON rejected. Jobs route such records to a
// dead-letter stream; Field and Offset say where the record went wrong.
type DecodeError struct {
	// Field is the path of the field at fault, such as "bid.price", or "" for the
	// record's own syntax.
	Field string
	// Offset is the byte offset in the record where the fault was found.
	Offset int
	// Reason says what is wrong.
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("decode nexmark event: at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("decode nexmark event: field %s at offset %d: %s", e.Field, e.Offset, e.Reason)
}

// DecodeJSON parses the JSON form of one event into e, strictly: every field of the
// kind must be present exactly once with its JSON type, integers must be integers that
// fit in int64, strings must be valid UTF-8, and no other field, member or trailing
// data may appear. Any other record is an error of type *DecodeError, and e is left
// partly written.
//
// The strings of e share one copy of data, made on the first string, so decoding costs
// one allocation per record unless a string holds escapes.
func DecodeJSON(data []byte, e *Event) error {
	*e = Event{}
	d := decoder{data: data}
	d.space()
	start := d.pos
	if !d.eat('{') {
		return d.fail(path{}, "want '{' to open the record")
	}
	var (
		kind     int64   = -1
		members  [3]bool // member key seen
		nonNull  [3]bool
		firstSet = -1
	)
	d.space()
	if !d.eat('}') {
		for {
			keyAt := d.pos
			key, err := d.key(path{})
			if err != nil {
				return err
			}
			if err := d.colon(path{name: string(key)}); err != nil {
				return err
			}
			switch string(key) {
			case "event_type":
				if kind >= 0 {
					return d.failAt(path{name: "event_type"}, keyAt, "appears twice")
				}
				at := d.pos
				v, err := d.integer(path{name: "event_type"})
				if err != nil {
					return err
				}
				if v < int64(KindPerson) || v > int64(KindBid) {
					return d.failAt(path{name: "event_type"}, at, fmt.Sprintf("%d is not 0 (person), 1 (auction) or 2 (bid)", v))
				}
				kind = v
			case "person", "auction", "bid":
				k := kindNamed(string(key))
				if members[k] {
					return d.failAt(path{name: k.String()}, keyAt, "appears twice")
				}
				members[k] = true
				if d.null() {
					break
				}
				if firstSet >= 0 {
					return d.failAt(path{name: k.String()}, keyAt, "a record holds one event, but "+Kind(firstSet).String()+" is set too")
				}
				firstSet = int(k)
				nonNull[k] = true
				if err := d.member(e, k); err != nil {
					return err
				}
			default:
				return d.failAt(path{name: string(key)}, keyAt, "unknown field")
			}
			d.space()
			if d.eat(',') {
				d.space()
				continue
			}
			if d.eat('}') {
				break
			}
			return d.fail(path{}, "want ',' or '}' after a field")
		}
	}
	d.space()
	if d.pos != len(d.data) {
		return d.fail(path{}, "data after the record")
	}
	if kind < 0 {
		return d.failAt(path{name: "event_type"}, start, "missing")
	}
	if !nonNull[kind] {
		return d.failAt(path{name: Kind(kind).String()}, start, "missing for event_type "+strconv.FormatInt(kind, 10))
	}
	e.Kind = Kind(kind)
	return nil
}

func kindNamed(s string) Kind {
	switch s {
	case "person":
		return KindPerson
	case "auction":
		return KindAuction
	}
	return KindBid
}

type decoder struct {
	data []byte
	pos  int
	// src is a copy of data that decoded strings are cut from, made on first use.
	src string
}

// path names a field for errors, such as object "bid" and name "price". It is only
// joined into one string when there is an error to report.
type path struct{ object, name string }

func (p path) String() string {
	if p.object == "" || p.name == "" {
		return p.object + p.name
	}
	return p.object + "." + p.name
}

func (d *decoder) failAt(field path, at int, reason string) error {
	return &DecodeError{Field: field.String(), Offset: at, Reason: reason}
}

func (d *decoder) fail(field path, reason string) error {
	if d.pos >= len(d.data) {
		reason += ", found the end of the record"
	} else {
		reason += fmt.Sprintf(", found %q", d.data[d.pos])
	}
	return d.failAt(field, d.pos, reason)
}

func (d *decoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) eat(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

func (d *decoder) null() bool {
	if len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

func (d *decoder) colon(field path) error {
	d.space()
	if !d.eat(':') {
		return d.fail(field, "want ':' after the field name")
	}
	d.space()
	return nil
}

// key reads a field name. Names are matched byte for byte, so one written with
// escapes is refused rather than unescaped.
func (d *decoder) key(object path) ([]byte, error) {
	if !d.eat('"') {
		return nil, d.fail(object, "want a quoted field name")
	}
	start := d.pos
	i := start
	for i < len(d.data) && plain[d.data[i]] {
		i++
	}
	d.pos = i
	if i == len(d.data) {
		return nil, d.fail(object, "unterminated field name")
	}
	if d.data[i] != '"' {
		return nil, d.fail(object, "field names are plain ASCII text")
	}
	d.pos++
	return d.data[start:i], nil
}

// member decodes the object of kind k into e.
func (d *decoder) member(e *Event, k Kind) error {
	names := fieldNames[k]
	start := d.pos
	if !d.eat('{') {
		return d.fail(path{name: k.String()}, "want an object or null")
	}
	var seen uint
	d.space()
	if !d.eat('}') {
		for {
			keyAt := d.pos
			key, err := d.key(path{name: k.String()})
			if err != nil {
				return err
			}
			i := 0
			for i < len(names) && names[i] != string(key) {
				i++
			}
			if i == len(names) {
				return d.failAt(path{k.String(), string(key)}, keyAt, "unknown field")
			}
			at := path{k.String(), names[i]}
			if seen&(1<<i) != 0 {
				return d.failAt(at, keyAt, "appears twice")
			}
			seen |= 1 << i
			if err := d.colon(at); err != nil {
				return err
			}
			if n, s := field(e, k, i); n != nil {
				*n, err = d.integer(at)
			} else {
				*s, err = d.string(at)
			}
			if err != nil {
				return err
			}
			d.space()
			if d.eat(',') {
				d.space()
				continue
			}
			if d.eat('}') {
				break
			}
			return d.fail(path{name: k.String()}, "want ',' or '}' after a field")
		}
	}
	for i, name := range names {
		if seen&(1<<i) == 0 {
			return d.failAt(path{k.String(), name}, start, "missing")
		}
	}
	return nil
}

// integer reads a JSON number that is an integer in int64 range.
func (d *decoder) integer(at path) (int64, error) {
	start := d.pos
	neg := d.eat('-')
	digits := d.pos
	var v uint64
	i := d.pos
	for ; i < len(d.data) && d.data[i] >= '0' && d.data[i] <= '9'; i++ {
		dig := uint64(d.data[i] - '0')
		if v > (1<<63-dig)/10 {
			return 0, d.failAt(at, start, "integer out of int64 range")
		}
		v = v*10 + dig
	}
	d.pos = i
	switch {
	case d.pos == digits:
		return 0, d.fail(at, "want an integer")
	case d.data[digits] == '0' && d.pos-digits > 1:
		return 0, d.failAt(at, start, "integer with a leading zero")
	case d.pos < len(d.data) && (d.data[d.pos] == '.' || d.data[d.pos] == 'e' || d.data[d.pos] == 'E'):
		return 0, d.failAt(at, start, "want an integer, not a fraction or exponent")
	}
	if neg {
		return -int64(v), nil
	}
	if v > 1<<63-1 {
		return 0, d.failAt(at, start, "integer out of int64 range")
	}
	return int64(v), nil
}

// string reads a JSON string. Without escapes the result is a slice of the decoder's
// one copy of the record.
func (d *decoder) string(at path) (string, error) {
	start := d.pos
	if !d.eat('"') {
		return "", d.fail(at, "want a string")
	}
	first := d.pos
	i := d.pos // a local, so the scan runs in a register
	for i < len(d.data) && plain[d.data[i]] {
		i++
	}
	d.pos = i
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			if d.src == "" {
				d.src = string(d.data)
			}
			return d.src[first : d.pos-1], nil
		case c == '\\':
			return d.escaped(at, start, first)
		case c < 0x20:
			return "", d.failAt(at, d.pos, "control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.failAt(at, d.pos, "invalid UTF-8 in string")
			}
			d.pos += size
		default:
			d.pos++
		}
	}
	return "", d.failAt(at, start, "unterminated string")
}

// escaped finishes a string that holds escapes, from d.pos at the first backslash.
func (d *decoder) escaped(at path, start, first int) (string, error) {
	buf := append([]byte(nil), d.data[first:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return "", d.failAt(at, d.pos, "control character in string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", d.failAt(at, d.pos, "invalid UTF-8 in string")
			}
			buf = append(buf, d.data[d.pos:d.pos+size]...)
			d.pos += size
		case c != '\\':
			buf = append(buf, c)
			d.pos++
		default:
			escAt := d.pos
			if d.pos+1 >= len(d.data) {
				return "", d.failAt(at, escAt, "unterminated escape")
			}
			esc := d.data[d.pos+1]
			d.pos += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", d.failAt(at, escAt, `\u wants four hex digits`)
				}
				if r >= 0xdc00 && r <= 0xdfff {
					return "", d.failAt(at, escAt, "unpaired UTF-16 surrogate")
				}
				if r >= 0xd800 && r <= 0xdbff {
					if d.pos+1 >= len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
						return "", d.failAt(at, escAt, "unpaired UTF-16 surrogate")
					}
					d.pos += 2
					lo, ok := d.hex4()
					if !ok || lo < 0xdc00 || lo > 0xdfff {
						return "", d.failAt(at, escAt, "unpaired UTF-16 surrogate")
					}
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", d.failAt(at, escAt, fmt.Sprintf("unknown escape \\%c", esc))
			}
		}
	}
	return "", d.failAt(at, start, "unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
