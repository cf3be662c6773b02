package flow

import "cmp"

// Aggregate folds records into an accumulator incrementally: windows and aggregating state
// keep only the accumulator, not the records. Merge combines two accumulators, which
// session windows need when they merge. Add must return a new accumulator rather than
// change a map or pointer inside the old one: a checkpoint may still be encoding the old
// one (a plain value, like the built-in aggregates use, is always safe).
type Aggregate[In, Acc, Out any] struct {
	Init   func() Acc
	Add    func(acc Acc, in In) Acc
	Merge  func(a, b Acc) Acc
	Result func(acc Acc) Out
}

// Count counts records.
func Count[In any]() Aggregate[In, int64, int64] {
	return Aggregate[In, int64, int64]{
		Init:   func() int64 { return 0 },
		Add:    func(acc int64, _ In) int64 { return acc + 1 },
		Merge:  func(a, b int64) int64 { return a + b },
		Result: func(acc int64) int64 { return acc },
	}
}

// Number is what Sum, Avg, Min and Max aggregate.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// Sum adds up field(record).
func Sum[In any, N Number](field func(In) N) Aggregate[In, N, N] {
	return Aggregate[In, N, N]{
		Init:   func() N { return 0 },
		Add:    func(acc N, in In) N { return acc + field(in) },
		Merge:  func(a, b N) N { return a + b },
		Result: func(acc N) N { return acc },
	}
}

// AvgAcc is Avg's accumulator.
type AvgAcc struct {
	Sum   float64
	Count int64
}

// Avg averages field(record).
func Avg[In any, N Number](field func(In) N) Aggregate[In, AvgAcc, float64] {
	return Aggregate[In, AvgAcc, float64]{
		Init:  func() AvgAcc { return AvgAcc{} },
		Add:   func(a AvgAcc, in In) AvgAcc { return AvgAcc{a.Sum + float64(field(in)), a.Count + 1} },
		Merge: func(a, b AvgAcc) AvgAcc { return AvgAcc{a.Sum + b.Sum, a.Count + b.Count} },
		Result: func(a AvgAcc) float64 {
			if a.Count == 0 {
				return 0
			}
			return a.Sum / float64(a.Count)
		},
	}
}

// MinMaxAcc is the accumulator of Min and Max.
type MinMaxAcc[N any] struct {
	V   N
	Set bool
}

// Min keeps the smallest field(record).
func Min[In any, N cmp.Ordered](field func(In) N) Aggregate[In, MinMaxAcc[N], N] {
	return extreme(field, func(a, b N) bool { return a < b })
}

// Max keeps the largest field(record).
func Max[In any, N cmp.Ordered](field func(In) N) Aggregate[In, MinMaxAcc[N], N] {
	return extreme(field, func(a, b N) bool { return a > b })
}

func extreme[In any, N cmp.Ordered](field func(In) N, better func(a, b N) bool) Aggregate[In, MinMaxAcc[N], N] {
	merge := func(a, b MinMaxAcc[N]) MinMaxAcc[N] {
		if !a.Set || b.Set && better(b.V, a.V) {
			return b
		}
		return a
	}
	return Aggregate[In, MinMaxAcc[N], N]{
		Init:   func() MinMaxAcc[N] { return MinMaxAcc[N]{} },
		Add:    func(a MinMaxAcc[N], in In) MinMaxAcc[N] { return merge(a, MinMaxAcc[N]{field(in), true}) },
		Merge:  merge,
		Result: func(a MinMaxAcc[N]) N { return a.V },
	}
}
