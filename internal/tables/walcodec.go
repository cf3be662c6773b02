package tables

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// walEntryVersion is the version of a write-ahead log entry's payload.
const walEntryVersion = 1

// walEncoder encodes the rows one write accepted as one log entry:
//
//	u8       version (1)
//	uvarint  number of names, then each name as uvarint length + bytes
//	uvarint  number of rows, then each row:
//	  i64 LE   time, nanoseconds since the epoch
//	  uvarint  version
//	  uvarint  index of the measure name in the names
//	  uvarint  number of dimensions, then each: uvarint name index, uvarint length + value bytes
//	  uvarint  number of measures, then each: uvarint name index, u8 type, value:
//	           double: u64 LE of its bits; bigint and timestamp: zig-zag varint;
//	           boolean: u8 0 or 1; varchar: uvarint length + bytes
//
// Names are listed once per entry because the same dimension and measure names repeat
// in every row of a write.
type walEncoder struct {
	names    map[string]uint64
	nameList []string
	body     []byte
	rows     int
	out      []byte
	// The names of the last row added and their indexes: the next row usually has the
	// same, and then needs no map lookups.
	prevDims, prevMeasures []string
	prevIdx                []uint64
}

// typeCode is a value type's code in log entries and value hashes.
func typeCode(t ColumnType) byte {
	switch t {
	case Double:
		return 1
	case BigInt:
		return 2
	case Varchar:
		return 3
	case Boolean:
		return 4
	case Timestamp:
		return 5
	}
	return 0
}

var codeTypes = [...]ColumnType{1: Double, 2: BigInt, 3: Varchar, 4: Boolean, 5: Timestamp}

func (e *walEncoder) reset() {
	if e.names == nil {
		e.names = map[string]uint64{}
	}
	clear(e.names)
	e.nameList, e.body, e.rows = e.nameList[:0], e.body[:0], 0
	e.prevDims, e.prevMeasures, e.prevIdx = e.prevDims[:0], e.prevMeasures[:0], e.prevIdx[:0]
}

// indexes returns the name indexes of r's dimensions and then its measures.
func (e *walEncoder) indexes(r *row) []uint64 {
	if sameDimNames(e.prevDims, r.dims) && sameMeasureNames(e.prevMeasures, r.measures) {
		return e.prevIdx
	}
	e.prevDims, e.prevMeasures, e.prevIdx = e.prevDims[:0], e.prevMeasures[:0], e.prevIdx[:0]
	for _, d := range r.dims {
		e.prevDims = append(e.prevDims, d.Name)
		e.prevIdx = append(e.prevIdx, e.name(d.Name))
	}
	for _, m := range r.measures {
		e.prevMeasures = append(e.prevMeasures, m.Name)
		e.prevIdx = append(e.prevIdx, e.name(m.Name))
	}
	return e.prevIdx
}

func (e *walEncoder) name(s string) uint64 {
	if i, ok := e.names[s]; ok {
		return i
	}
	i := uint64(len(e.nameList))
	e.names[s] = i
	e.nameList = append(e.nameList, s)
	return i
}

func (e *walEncoder) add(r *row) {
	b := binary.LittleEndian.AppendUint64(e.body, uint64(r.time))
	b = binary.AppendUvarint(b, uint64(r.version))
	b = binary.AppendUvarint(b, e.name(r.measureName))
	idx := e.indexes(r)
	b = binary.AppendUvarint(b, uint64(len(r.dims)))
	for j, d := range r.dims {
		b = binary.AppendUvarint(b, idx[j])
		b = binary.AppendUvarint(b, uint64(len(d.Value)))
		b = append(b, d.Value...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.measures)))
	for j, m := range r.measures {
		b = appendValue(binary.AppendUvarint(b, idx[len(r.dims)+j]), m.Value)
	}
	e.body = b
	e.rows++
}

// appendValue appends v as a log entry holds it: its type code, then the value. The
// index hashes values in the same form.
func appendValue(b []byte, v Value) []byte {
	b = append(b, typeCode(v.Type))
	switch v.Type {
	case Double:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.F))
	case BigInt, Timestamp:
		b = binary.AppendVarint(b, v.I)
	case Boolean:
		if v.B {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case Varchar:
		b = binary.AppendUvarint(b, uint64(len(v.S)))
		b = append(b, v.S...)
	}
	return b
}

// payload returns the entry; valid until the next reset.
func (e *walEncoder) payload() []byte {
	out := append(e.out[:0], walEntryVersion)
	out = binary.AppendUvarint(out, uint64(len(e.nameList)))
	for _, n := range e.nameList {
		out = binary.AppendUvarint(out, uint64(len(n)))
		out = append(out, n...)
	}
	out = binary.AppendUvarint(out, uint64(e.rows))
	out = append(out, e.body...)
	e.out = out
	return out
}

var errShortEntry = errors.New("entry ends early")

// decodeWALEntry calls fn with each row of an entry. The row's strings are copies; its
// slices are reused between calls.
func decodeWALEntry(p []byte, fn func(r *row) error) error {
	d := walDecoder{p: p}
	if v := d.byte(); v != walEntryVersion {
		return fmt.Errorf("entry version %d; this eddy reads version %d", v, walEntryVersion)
	}
	names := make([]string, d.count())
	for i := range names {
		names[i] = d.str()
	}
	name := func() string {
		i := d.uvarint()
		if i >= uint64(len(names)) {
			d.err = fmt.Errorf("name index %d out of %d", i, len(names))
			return ""
		}
		return names[i]
	}
	n := d.uvarint()
	var r row
	for range n {
		if d.err != nil {
			break
		}
		r.time = int64(d.u64())
		r.version = int64(d.uvarint())
		r.measureName = name()
		r.dims = r.dims[:0]
		for range d.count() {
			r.dims = append(r.dims, Dimension{Name: name(), Value: d.str()})
		}
		r.measures = r.measures[:0]
		for range d.count() {
			m := Measure{Name: name()}
			c := d.byte()
			if int(c) >= len(codeTypes) || codeTypes[c] == "" {
				return fmt.Errorf("unknown value type %d", c)
			}
			m.Value.Type = codeTypes[c]
			switch m.Value.Type {
			case Double:
				m.Value.F = math.Float64frombits(d.u64())
			case BigInt, Timestamp:
				m.Value.I = d.varint()
			case Boolean:
				m.Value.B = d.byte() == 1
			case Varchar:
				m.Value.S = d.str()
			}
			r.measures = append(r.measures, m)
		}
		if d.err != nil {
			break
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return d.err
}

type walDecoder struct {
	p   []byte
	err error
}

func (d *walDecoder) fail() {
	if d.err == nil {
		d.err = errShortEntry
	}
	d.p = nil
}

func (d *walDecoder) byte() byte {
	if len(d.p) < 1 {
		d.fail()
		return 0
	}
	b := d.p[0]
	d.p = d.p[1:]
	return b
}

func (d *walDecoder) u64() uint64 {
	if len(d.p) < 8 {
		d.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(d.p)
	d.p = d.p[8:]
	return v
}

func (d *walDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

func (d *walDecoder) varint() int64 {
	v, n := binary.Varint(d.p)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.p = d.p[n:]
	return v
}

// count reads a count that must not exceed the bytes left (each item takes at least one).
func (d *walDecoder) count() uint64 {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.fail()
		return 0
	}
	return n
}

func (d *walDecoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.p)) {
		d.fail()
		return ""
	}
	s := string(d.p[:n])
	d.p = d.p[n:]
	return s
}
