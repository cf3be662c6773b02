package flow_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

type event struct {
	Key   string
	Value int
	Time  int64
}

func TestMapFilterKeyedRunningSum(t *testing.T) { forEachBackend(t, testMapFilterKeyedRunningSum) }

func testMapFilterKeyedRunningSum(t *testing.T, backend flow.StateBackend) {
	var in []event
	for i := 0; i < 10_000; i++ {
		in = append(in, event{Key: string(rune('a' + i%5)), Value: i, Time: int64(i)})
	}
	job := flow.NewJob("sum", flow.JobOptions{StateBackend: backend, Parallelism: 3, BatchSize: 64, ChannelCapacity: 2})
	src := flow.FromSlice(job, "events", in, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }})
	even := flow.Filter(src, "even", func(e event) bool { return e.Value%2 == 0 })
	doubled := flow.Map(even, "double", func(e event) event { e.Value *= 2; return e })
	keyed := flow.KeyBy(doubled, func(e event) string { return e.Key })
	sums := flow.Process(keyed, "running-sum", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, [2]int] {
		sum := flow.NewValueState[int](rt, "sum")
		return flow.KeyedProcessor[string, event, [2]int]{
			Element: func(ctx *flow.ProcessContext[string, [2]int], e event) {
				s, _ := sum.Value()
				s += e.Value
				sum.Update(s)
				ctx.Emit([2]int{int(e.Key[0]), s})
			},
		}
	})
	out := flow.Collect(sums)
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	final := map[int]int{}
	for _, v := range out.Values() {
		final[v[0]] = max(final[v[0]], v[1])
	}
	want := map[int]int{}
	for _, e := range in {
		if e.Value%2 == 0 {
			want[int(e.Key[0])] += 2 * e.Value
		}
	}
	if len(out.Values()) != 5000 || !mapsEqual(final, want) {
		t.Fatalf("got %d records, sums %v, want %v", len(out.Values()), final, want)
	}
}

func mapsEqual(a, b map[int]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestEventTimersFireInOrder(t *testing.T) { forEachBackend(t, testEventTimersFireInOrder) }

func testEventTimersFireInOrder(t *testing.T, backend flow.StateBackend) {
	in := []event{{"a", 1, 100}, {"b", 2, 50}, {"a", 3, 300}, {"b", 4, 200}, {"a", 5, 1000}}
	job := flow.NewJob("timers", flow.JobOptions{StateBackend: backend})
	src := flow.FromSlice(job, "events", in, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.Monotonous()})
	fired := flow.Process(flow.KeyBy(src, func(e event) string { return e.Key }), "timers", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, string] {
		return flow.KeyedProcessor[string, event, string]{
			Element: func(ctx *flow.ProcessContext[string, string], e event) { ctx.SetEventTimer(e.Time + 10) },
			Timer: func(ctx *flow.ProcessContext[string, string], ts int64, d flow.TimeDomain) {
				ctx.Emit(ctx.Key() + time.Duration(ts).String())
			},
		}
	})
	out := flow.Collect(fired)
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var times []int64
	for _, r := range out.Records() {
		times = append(times, r.Time)
	}
	if !slices.IsSorted(times) || len(times) != 5 {
		t.Fatalf("timers fired at %v", times)
	}
}
