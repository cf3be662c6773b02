package server

import (
	"slices"
	"unsafe"

	"github.com/eddy-streams/eddy/internal/tables"
)

// recordMemory hands out the memory of decoded table records: their strings and their
// dimension and measure slices, carved from chunks so a 10,000-record write makes a few
// dozen allocations rather than one per string. The table writer may keep anything it is
// given, so handed-out memory is never written again: a chunk is only appended to, and a
// full one is left to the garbage collector with whatever still points into it. Chunks
// stay small (chunkBytes, chunkEntries) so a kept string pins little else.
//
// Names (of dimensions, measures and tables) repeat from record to record and request
// to request; they are interned instead, up to maxInterned of them.
type recordMemory struct {
	text     []byte
	dims     entries[tables.Dimension]
	measures entries[tables.Measure]
	names    map[string]string
}

const (
	chunkBytes   = 64 << 10
	chunkEntries = 2048
	maxInterned  = 1 << 14
)

// str returns a string holding b.
func (m *recordMemory) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if cap(m.text)-len(m.text) < len(b) {
		m.text = make([]byte, 0, max(len(b), chunkBytes))
	}
	start := len(m.text)
	m.text = append(m.text, b...)
	return unsafe.String(&m.text[start], len(b))
}

// name returns an interned string holding b.
func (m *recordMemory) name(b []byte) string {
	if s, ok := m.names[string(b)]; ok {
		return s
	}
	if m.names == nil || len(m.names) >= maxInterned {
		m.names = make(map[string]string, 256)
	}
	s := string(b)
	m.names[s] = s
	return s
}

// beginRecord starts collecting a record's dimensions and measures.
func (m *recordMemory) beginRecord() {
	m.dims.begin()
	m.measures.begin()
}

// entries holds the dimensions or the measures of the records, in chunks.
type entries[T tables.Dimension | tables.Measure] struct {
	chunk []T
	start int // where the current record's entries start in chunk
}

// begin starts the current record, with no entries.
func (e *entries[T]) begin() {
	e.start = len(e.chunk)
}

// add adds an entry to the current record. A full chunk is left behind with the records
// handed out from it; only the current record's part moves.
func (e *entries[T]) add(v T) {
	if len(e.chunk) == cap(e.chunk) {
		n := len(e.chunk) - e.start
		chunk := make([]T, n, max(chunkEntries, 2*n))
		copy(chunk, e.chunk[e.start:])
		e.chunk, e.start = chunk, 0
	}
	e.chunk = append(e.chunk, v)
}

// count is how many entries the current record has.
func (e *entries[T]) count() int {
	return len(e.chunk) - e.start
}

// record returns the current record's entries, nil if none. Its capacity is its length,
// so an append to it by the writer copies rather than overwrites the next record's.
func (e *entries[T]) record() []T {
	if len(e.chunk) == e.start {
		return nil
	}
	return e.chunk[e.start:len(e.chunk):len(e.chunk)]
}

// nameCache holds the names (and, for dimensions, the values) of the last record's
// dimensions or measures by position. Records of one write mostly list the same names
// in the same order, so comparing with the last record's is cheaper than interning,
// and a record whose names all match needs no check for duplicates: the names cached
// are always a prefix of one record's, checked when they were cached.
type nameCache struct {
	names  []string
	values []string
}

// name returns the name at position j of a record, interned, and whether the names at
// positions 0 to j all matched the cache (same says whether 0 to j-1 did). A name that
// does not match is checked against the record's names so far: dup reports that it
// repeats one; otherwise it is cached at position j.
func (c *nameCache) name(m *recordMemory, j int, key []byte, same bool) (name string, stillSame, dup bool) {
	if same && j < len(c.names) && c.names[j] == string(key) {
		return c.names[j], true, false
	}
	name = m.name(key)
	if slices.Contains(c.names[:j], name) {
		return name, false, true
	}
	c.names = append(c.names[:j], name)
	return name, false, false
}

// value returns a string holding b, the value at position j, reusing the last record's
// if it is the same.
func (c *nameCache) value(m *recordMemory, j int, b []byte) string {
	if j < len(c.values) && c.values[j] == string(b) {
		return c.values[j]
	}
	s := m.str(b)
	if j < len(c.values) {
		c.values[j] = s
	} else if j == len(c.values) {
		c.values = append(c.values, s)
	}
	return s
}

// reset forgets the cached names, at the start of a request.
func (c *nameCache) reset() {
	c.names, c.values = c.names[:0], c.values[:0]
}
