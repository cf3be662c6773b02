package histogram

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 40, math.MaxInt64, math.MaxUint64} {
		lo, hi := bounds(index(v))
		if v < lo || v > hi {
			t.Fatalf("value %d lands in bucket %d = [%d, %d]", v, index(v), lo, hi)
		}
		if v >= subCount && float64(hi-lo) > float64(lo)/half {
			t.Fatalf("bucket [%d, %d] is wider than 1/%d of its value", lo, hi, half)
		}
	}
}

func TestQuantilesMatchSortedSample(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b Histogram
	var all []time.Duration
	for i := 0; i < 100_000; i++ {
		d := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		all = append(all, d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	slices.Sort(all)
	if a.Count() != uint64(len(all)) || a.Max() != all[len(all)-1] {
		t.Fatalf("count %d max %v, want %d and %v", a.Count(), a.Max(), len(all), all[len(all)-1])
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := all[int(math.Ceil(q*float64(len(all))))-1]
		got := a.Quantile(q)
		if math.Abs(float64(got-want)) > float64(want)/half+1 {
			t.Errorf("quantile %v = %v, want %v within 1/%d", q, got, want, half)
		}
	}
}

func TestEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram reports values")
	}
}
