// Package histogram records latencies into fixed log-linear buckets, in the manner of
// HdrHistogram, so a benchmark can time millions of calls without allocating and still
// report percentiles to within about 1.6%.
package histogram

import (
	"math/bits"
	"time"
)

// subBits sets the precision: values below 2^subBits nanoseconds are exact, and every
// larger power of two is split into 2^(subBits-1) equal buckets.
const (
	subBits  = 7
	subCount = 1 << subBits
	half     = subCount / 2
	buckets  = subCount + (64-subBits)*half
)

// Histogram counts durations. The zero value is ready to use; it is not safe for
// concurrent use, so give each goroutine its own and Merge them afterwards.
type Histogram struct {
	counts [buckets]uint64
	total  uint64
	max    time.Duration
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[index(uint64(d))]++
	h.total++
	h.max = max(h.max, d)
}

// Merge adds every count of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// Count is how many durations were recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest duration recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the duration at or below which a fraction q of the recorded
// durations fall (q = 0.99 is the 99th percentile), as the middle of its bucket; 0 when
// nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q * float64(h.total))
	if float64(rank) < q*float64(h.total) {
		rank++
	}
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			return min(time.Duration(lo+(hi-lo)/2), h.max)
		}
	}
	return h.max
}

// index is the bucket of value v.
func index(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // >= 1
	mantissa := v >> shift           // in [half, subCount)
	return subCount + (shift-1)*half + int(mantissa-half)
}

// bounds is the smallest and largest value of bucket i.
func bounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := (i-subCount)/half + 1
	mantissa := uint64((i-subCount)%half + half)
	lo = mantissa << shift
	return lo, lo + (1 << shift) - 1
}
