package tables

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// index is the memory tier's record identities: per series (measure name and
// dimensions), the times it holds, in order, with each row's version, a hash of its
// values and the seq under which it was accepted. It decides whether a write inserts,
// replaces, changes nothing or conflicts, without looking at the rows in DuckDB.
type index struct {
	series map[string]*series
	rows   int
	key    []byte
	hbuf   []byte
}

type series struct {
	// id numbers the series in the DuckDB memory table; 0 until it is published.
	id       uint32
	times    []int64
	versions []int64
	hashes   []uint64
	seqs     []uint64
}

func newIndex() *index { return &index{series: map[string]*series{}} }

// outcome is what a write does to an identity.
type outcome uint8

const (
	inserted outcome = iota
	replaced
	unchanged
	conflict
)

// seriesKey writes r's series key into the index's buffer: the measure name and the
// dimensions, each name and value ended by a zero byte (names and values hold none).
func (ix *index) seriesKey(r *row) []byte {
	k := append(ix.key[:0], r.measureName...)
	k = append(k, 0)
	for _, d := range r.dims {
		k = append(k, d.Name...)
		k = append(k, 0)
		k = append(k, d.Value...)
		k = append(k, 0)
	}
	ix.key = k
	return k
}

// hashValues hashes a row's measures: names, types and values.
func (ix *index) hashValues(ms []Measure) uint64 {
	b := ix.hbuf[:0]
	for _, m := range ms {
		b = append(b, m.Name...)
		b = appendValue(append(b, 0), m.Value)
	}
	ix.hbuf = b
	return xxhash.Sum64(b)
}

// upsert applies r, accepted under seq, and says what it did; for replaced, old is the
// seq of the row it replaced; for conflict, existing is the stored version.
func (ix *index) upsert(r *row, seq uint64) (s *series, o outcome, old uint64, existing int64) {
	key := ix.seriesKey(r)
	s = ix.series[string(key)]
	if s == nil {
		s = &series{}
		ix.series[string(key)] = s
	}
	h := ix.hashValues(r.measures)
	n := len(s.times)
	if n == 0 || r.time > s.times[n-1] {
		s.times = append(s.times, r.time)
		s.versions = append(s.versions, r.version)
		s.hashes = append(s.hashes, h)
		s.seqs = append(s.seqs, seq)
		ix.rows++
		return s, inserted, 0, 0
	}
	i, found := slices.BinarySearch(s.times, r.time)
	if !found {
		s.times = slices.Insert(s.times, i, r.time)
		s.versions = slices.Insert(s.versions, i, r.version)
		s.hashes = slices.Insert(s.hashes, i, h)
		s.seqs = slices.Insert(s.seqs, i, seq)
		ix.rows++
		return s, inserted, 0, 0
	}
	switch {
	case s.hashes[i] == h && r.version <= s.versions[i]:
		return s, unchanged, 0, 0
	case r.version > s.versions[i]:
		old = s.seqs[i]
		s.versions[i], s.hashes[i], s.seqs[i] = r.version, h, seq
		return s, replaced, old, 0
	default:
		return s, conflict, 0, s.versions[i]
	}
}

// removeBefore drops the rows older than cut accepted up to maxSeq (moved to the
// magnetic tier) and returns how many it dropped. An emptied series stays, keeping its
// id for when it gets rows again.
func (ix *index) removeBefore(cut int64, maxSeq uint64) int {
	dropped := 0
	for _, s := range ix.series {
		j := 0
		for i, t := range s.times {
			if t < cut && s.seqs[i] <= maxSeq {
				dropped++
				continue
			}
			s.times[j], s.versions[j], s.hashes[j], s.seqs[j] = t, s.versions[i], s.hashes[i], s.seqs[i]
			j++
		}
		s.times, s.versions, s.hashes, s.seqs = s.times[:j], s.versions[:j], s.hashes[:j], s.seqs[:j]
	}
	ix.rows -= dropped
	return dropped
}

// daysBefore returns the start of each UTC day holding rows older than cut accepted up
// to maxSeq, sorted.
func (ix *index) daysBefore(cut int64, maxSeq uint64) []int64 {
	seen := map[int64]bool{}
	for _, s := range ix.series {
		for i, t := range s.times {
			if t >= cut {
				break
			}
			if s.seqs[i] <= maxSeq {
				seen[dayStart(t)] = true
			}
		}
	}
	days := make([]int64, 0, len(seen))
	for d := range seen {
		days = append(days, d)
	}
	slices.Sort(days)
	return days
}

const nanosPerDay = int64(24 * 60 * 60 * 1e9)

// dayStart returns the start of t's UTC day, in nanoseconds.
func dayStart(t int64) int64 {
	d := t / nanosPerDay
	if t < 0 && t%nanosPerDay != 0 {
		d--
	}
	return d * nanosPerDay
}
