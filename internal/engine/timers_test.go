package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTimersFireInTimeOrderOnce(t *testing.T) {
	var q Timers[string]
	q.Register("a", 30)
	q.Register("b", 10)
	q.Register("a", 30) // the same timer again: kept once
	q.Register("c", 20)
	q.Delete("c", 20)
	q.Register("c", 20) // deleted, then set again: fires once
	q.Register("d", 10) // a tie fires in registration order
	var got []string
	for {
		k, _, ok := q.Next(25)
		if !ok {
			break
		}
		got = append(got, k)
	}
	if !slices.Equal(got, []string{"b", "d", "c"}) || q.Len() != 1 {
		t.Fatalf("fired %v, %d left", got, q.Len())
	}
	if at, ok := q.Earliest(); !ok || at != 30 {
		t.Fatalf("earliest %d %v", at, ok)
	}
}

func TestTimersMatchASortedReferenceUnderChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q Timers[int]
	live := map[[2]int64]bool{}
	for i := 0; i < 20_000; i++ {
		k, at := r.IntN(100), r.Int64N(1000)
		if r.IntN(3) == 0 {
			q.Delete(k, at)
			delete(live, [2]int64{int64(k), at})
			continue
		}
		q.Register(k, at)
		live[[2]int64{int64(k), at}] = true
	}
	var want []int64
	for id := range live {
		want = append(want, id[1])
	}
	slices.Sort(want)
	var got []int64
	for {
		_, at, ok := q.Next(1000)
		if !ok {
			break
		}
		got = append(got, at)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fired %d timers, want %d", len(got), len(want))
	}
}
