package flow_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

func TestIntervalJoinMatchesBruteForce(t *testing.T) {
	forEachBackend(t, testIntervalJoinMatchesBruteForce)
}

func testIntervalJoinMatchesBruteForce(t *testing.T, backend flow.StateBackend) {
	r := rand.New(rand.NewPCG(5, 5))
	var left, right []event
	for i := 0; i < 600; i++ {
		left = append(left, event{Key: fmt.Sprintf("k%d", r.IntN(3)), Value: i, Time: int64(i * 10)})
		right = append(right, event{Key: fmt.Sprintf("k%d", r.IntN(3)), Value: 1000 + i, Time: int64(i*10 + r.IntN(7))})
	}
	job := flow.NewJob("interval", flow.JobOptions{StateBackend: backend, Parallelism: 2})
	opts := flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.BoundedOutOfOrderness(10 * time.Millisecond)}
	a := flow.KeyBy(flow.FromSlice(job, "left", left, opts), func(e event) string { return e.Key })
	b := flow.KeyBy(flow.FromSlice(job, "right", right, opts), func(e event) string { return e.Key })
	joined := flow.IntervalJoin(a, b, "join", -20*time.Millisecond, 30*time.Millisecond, func(x, y event) [2]int { return [2]int{x.Value, y.Value} })
	out := flow.Collect(joined)
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var want [][2]int
	for _, x := range left {
		for _, y := range right {
			if x.Key == y.Key && y.Time >= x.Time-20 && y.Time <= x.Time+30 {
				want = append(want, [2]int{x.Value, y.Value})
			}
		}
	}
	got := out.Values()
	cmp := func(p, q [2]int) int { return (p[0]-q[0])*10000 + p[1] - q[1] }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("%d pairs, want %d", len(got), len(want))
	}
}

func TestWindowJoin(t *testing.T) { forEachBackend(t, testWindowJoin) }

func testWindowJoin(t *testing.T, backend flow.StateBackend) {
	persons := []event{{"p1", 1, 100}, {"p2", 2, 200}, {"p3", 3, 12_000}}
	auctions := []event{{"p1", 10, 5_000}, {"p1", 11, 9_999}, {"p2", 12, 10_000}, {"p3", 13, 15_000}}
	job := flow.NewJob("window-join", flow.JobOptions{StateBackend: backend})
	opts := flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.Monotonous()}
	p := flow.KeyBy(flow.FromSlice(job, "persons", persons, opts), func(e event) string { return e.Key })
	a := flow.KeyBy(flow.FromSlice(job, "auctions", auctions, opts), func(e event) string { return e.Key })
	joined := flow.WindowJoin(p, a, "new-sellers", flow.Tumbling(10*time.Second), func(k string, w flow.Window, x, y event) string {
		return fmt.Sprintf("%s@%d:%d", k, w.Start, y.Value)
	})
	out := flow.Collect(joined)
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	got := out.Values()
	slices.Sort(got)
	want := []string{"p1@0:10", "p1@0:11", "p3@10000:13"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestBroadcastStateReachesEverySubtask(t *testing.T) {
	forEachBackend(t, testBroadcastStateReachesEverySubtask)
}

func testBroadcastStateReachesEverySubtask(t *testing.T, backend flow.StateBackend) {
	job := flow.NewJob("enrich", flow.JobOptions{StateBackend: backend})
	payments := flow.FromSlice(job, "payments", []event{{"EUR", 10, 1}, {"USD", 20, 2}, {"GBP", 5, 3}}, flow.SourceOptions[event]{})
	rules := flow.FromSlice(job, "blocked", []string{"GBP"}, flow.SourceOptions[string]{})
	// Broadcast: every subtask learns the blocked currencies. Records and rules race, so
	// the test only checks that the state is readable where there is no key.
	var seen atomic.Int64
	flow.Collect(flow.ProcessBroadcast(flow.KeyBy(payments, func(e event) string { return e.Key }), rules, "block",
		func(rt *flow.Runtime[string]) flow.BroadcastProcessor[string, event, string, string] {
			blocked := flow.NewBroadcastState[string, bool](rt, "blocked")
			return flow.BroadcastProcessor[string, event, string, string]{
				Element:   func(ctx *flow.ProcessContext[string, string], e event) { seen.Add(1) },
				Broadcast: func(ctx *flow.ProcessContext[string, string], c string) { blocked.Put(c, true) },
			}
		}))
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != 3 {
		t.Fatalf("broadcast operator saw %d records", seen.Load())
	}

}

func TestTemporalJoinUsesTheRowCurrentAtEventTime(t *testing.T) {
	forEachBackend(t, testTemporalJoinUsesTheRowCurrentAtEventTime)
}

func testTemporalJoinUsesTheRowCurrentAtEventTime(t *testing.T, backend flow.StateBackend) {
	type rate struct {
		Currency string
		Rate     int
		Time     int64
	}
	// The rates arrive as one bounded input and the payments as another; whichever the
	// operator sees first, each payment must get the rate valid at its time.
	for run := 0; run < 5; run++ {
		job := flow.NewJob("temporal", flow.JobOptions{StateBackend: backend, Parallelism: 2})
		rates := flow.FromSlice(job, "rates", []rate{{"EUR", 110, 0}, {"EUR", 120, 100}, {"USD", 100, 50}},
			flow.SourceOptions[rate]{Timestamp: func(r rate) int64 { return r.Time }, Watermarks: flow.Monotonous()})
		pays := flow.FromSlice(job, "payments", []event{{"EUR", 10, 50}, {"EUR", 10, 100}, {"EUR", 10, 150}, {"USD", 5, 20}, {"USD", 5, 60}},
			flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.Monotonous()})
		out := flow.Collect(flow.TemporalJoin(flow.KeyBy(pays, func(e event) string { return e.Key }), flow.KeyBy(rates, func(r rate) string { return r.Currency }), "convert",
			func(e event, r rate, found bool) (string, bool) {
				if !found {
					return fmt.Sprintf("%s@%d:none", e.Key, e.Time), true
				}
				return fmt.Sprintf("%s@%d:%d", e.Key, e.Time, e.Value*r.Rate), true
			}))
		if err := flow.Run(context.Background(), job); err != nil {
			t.Fatal(err)
		}
		got := out.Values()
		slices.Sort(got)
		want := []string{"EUR@100:1200", "EUR@150:1200", "EUR@50:1100", "USD@20:none", "USD@60:500"}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: got %v want %v", run, got, want)
		}
	}
}
