package flow_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// shuffled returns n events over keys k0..k4 whose times are shuffled by up to disorder ms
// against their arrival order.
func shuffled(n int, disorder int64, seed uint64) []event {
	r := rand.New(rand.NewPCG(seed, 1))
	evs := make([]event, n)
	for i := range evs {
		evs[i] = event{Key: fmt.Sprintf("k%d", r.IntN(5)), Value: r.IntN(100), Time: int64(i)*7 + r.Int64N(disorder+1) - disorder/2}
	}
	return evs
}

type winID struct {
	key        string
	start, end int64
}

// referenceWindows computes, by brute force, which windows each event counts in and which
// events are late, replaying the watermark the source emits after every record
// (bounded out-of-orderness: max time seen - bound - 1).
func referenceWindows(evs []event, bound int64, assign func(t int64) [][2]int64, lateness int64) (sums map[winID]int, late []event) {
	sums = map[winID]int{}
	wm := int64(-1 << 62)
	maxT := int64(-1 << 62)
	for _, e := range evs {
		counted := false
		for _, w := range assign(e.Time) {
			if w[1]-1+lateness <= wm {
				continue
			}
			counted = true
			sums[winID{e.Key, w[0], w[1]}] += e.Value
		}
		if !counted {
			late = append(late, e)
		}
		maxT = max(maxT, e.Time)
		wm = maxT - bound - 1
	}
	return sums, late
}

func slidingWindows(size, slide int64) func(t int64) [][2]int64 {
	return func(t int64) [][2]int64 {
		var out [][2]int64
		last := t - ((t%slide)+slide)%slide
		for s := last; s > t-size; s -= slide {
			out = append(out, [2]int64{s, s + size})
		}
		return out
	}
}

func runWindowJob(t *testing.T, evs []event, bound time.Duration, assigner flow.WindowAssigner, lateness time.Duration) (final map[winID]int, emits map[winID]int, late []event) {
	t.Helper()
	job := flow.NewJob("windows", flow.JobOptions{Parallelism: 3, BatchSize: 1})
	src := flow.FromSlice(job, "events", evs, flow.SourceOptions[event]{
		Timestamp:  func(e event) int64 { return e.Time },
		Watermarks: flow.BoundedOutOfOrderness(bound),
	})
	lateTag := flow.NewSideOutput[event]("late")
	sums := flow.WindowAggregate(flow.KeyBy(src, func(e event) string { return e.Key }), "sum", assigner,
		flow.Sum(func(e event) int { return e.Value }),
		flow.WindowOptions[event]{AllowedLateness: lateness, LateData: lateTag})
	results := flow.Collect(sums)
	lateOut := flow.Collect(flow.SideStream(sums, lateTag))
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	final, emits = map[winID]int{}, map[winID]int{}
	for _, r := range results.Records() {
		id := winID{r.Value.Key, r.Value.Window.Start, r.Value.Window.End}
		final[id] = r.Value.Value // per key, results arrive in firing order
		emits[id]++
		if r.Time != r.Value.Window.End-1 {
			t.Fatalf("result of %v carries time %d, want the window's max timestamp", id, r.Time)
		}
	}
	return final, emits, lateOut.Values()
}

func sortEvents(evs []event) []event {
	evs = slices.Clone(evs)
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].Time != evs[j].Time {
			return evs[i].Time < evs[j].Time
		}
		return evs[i].Key+fmt.Sprint(evs[i].Value) < evs[j].Key+fmt.Sprint(evs[j].Value)
	})
	return evs
}

func TestWindowsMatchBruteForce(t *testing.T) {
	evs := shuffled(3000, 400, 7)
	for _, tc := range []struct {
		name     string
		assigner flow.WindowAssigner
		ref      func(int64) [][2]int64
		bound    time.Duration
		lateness time.Duration
	}{
		{"tumbling", flow.Tumbling(100 * time.Millisecond), slidingWindows(100, 100), 50 * time.Millisecond, 0},
		{"tumbling-lateness", flow.Tumbling(100 * time.Millisecond), slidingWindows(100, 100), 50 * time.Millisecond, 120 * time.Millisecond},
		{"sliding", flow.Sliding(100*time.Millisecond, 25*time.Millisecond), slidingWindows(100, 25), 50 * time.Millisecond, 0},
		{"sliding-lateness", flow.Sliding(100*time.Millisecond, 25*time.Millisecond), slidingWindows(100, 25), 30 * time.Millisecond, 80 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantSums, wantLate := referenceWindows(evs, tc.bound.Milliseconds(), tc.ref, tc.lateness.Milliseconds())
			if len(wantLate) == 0 {
				t.Fatal("the input has no late events: the test proves little")
			}
			got, emits, late := runWindowJob(t, evs, tc.bound, tc.assigner, tc.lateness)
			if len(got) != len(wantSums) {
				t.Fatalf("%d windows, want %d", len(got), len(wantSums))
			}
			for id, want := range wantSums {
				if got[id] != want {
					t.Fatalf("window %v: sum %d, want %d", id, got[id], want)
				}
			}
			if !slices.Equal(sortEvents(late), sortEvents(wantLate)) {
				t.Fatalf("late side output has %d events, want %d", len(late), len(wantLate))
			}
			updated := 0
			for _, n := range emits {
				updated += n - 1
			}
			if tc.lateness == 0 && updated > 0 {
				t.Fatalf("%d windows fired more than once without allowed lateness", updated)
			}
			if tc.lateness > 0 && updated == 0 {
				t.Fatal("no window was updated by a late event within the allowed lateness")
			}
		})
	}
}

func TestSessionWindowsMatchBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	var evs []event
	tm := int64(0)
	for i := 0; i < 2000; i++ {
		tm += r.Int64N(40) // gaps of 0..39 ms against a session gap of 30 ms
		evs = append(evs, event{Key: fmt.Sprintf("k%d", r.IntN(4)), Value: 1, Time: tm})
	}
	// Shuffle locally and make the watermark wait 2 s, far beyond any displacement, so
	// nothing is late.
	in := slices.Clone(evs)
	for i := range in {
		j := min(i+r.IntN(5), len(in)-1)
		if in[j].Time-in[i].Time < 200 {
			in[i], in[j] = in[j], in[i]
		}
	}
	got, _, late := runWindowJob(t, in, 2*time.Second, flow.Session(30*time.Millisecond), 0)
	if len(late) != 0 {
		t.Fatalf("%d late events", len(late))
	}
	want := map[winID]int{}
	byKey := map[string][]event{}
	for _, e := range sortEvents(evs) {
		byKey[e.Key] = append(byKey[e.Key], e)
	}
	for k, es := range byKey {
		start, end, n := es[0].Time, es[0].Time+30, 0
		for _, e := range es {
			if e.Time > end { // windows [t, t+gap) merge when they touch
				want[winID{k, start, end}] = n
				start, n = e.Time, 0
			}
			end = max(end, e.Time+30)
			n++
		}
		want[winID{k, start, end}] = n
	}
	if len(got) != len(want) {
		t.Fatalf("%d sessions, want %d", len(got), len(want))
	}
	for id, n := range want {
		if got[id] != n {
			t.Fatalf("session %v: %d events, want %d", id, got[id], n)
		}
	}
}

func TestSessionLateEventWithinLatenessUpdatesAndMerges(t *testing.T) {
	in := []event{
		{"a", 1, 0}, {"a", 1, 10}, // session [0, 40)
		{"b", 0, 200}, // watermark 199 passes 39: [0, 40) fires with 2
		{"a", 1, 45},  // behind the watermark, within lateness: session [45, 75) fires at once
		{"a", 1, 38},  // bridges [0,40) and [45,75): they merge into [0,75), which fires with 4
		{"b", 0, 600}, // watermark 599 passes every cleanup time (max timestamp + 300)
		{"a", 1, 5},   // after cleanup: late
	}
	got, emits, late := runWindowJob(t, in, 0, flow.Session(30*time.Millisecond), 300*time.Millisecond)
	if got[winID{"a", 0, 75}] != 4 {
		t.Fatalf("merged session: %v", got)
	}
	if emits[winID{"a", 0, 40}] != 1 || emits[winID{"a", 45, 75}] != 1 || len(late) != 1 || late[0].Time != 5 {
		t.Fatalf("emits %v, late %v", emits, late)
	}
}

func TestGlobalCountTrigger(t *testing.T) {
	var in []event
	for i := 0; i < 25; i++ {
		in = append(in, event{Key: "a", Value: i, Time: int64(i)})
	}
	job := flow.NewJob("global")
	src := flow.FromSlice(job, "events", in, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }})
	counts := flow.WindowAggregate(flow.KeyBy(src, func(e event) string { return e.Key }), "sum", flow.Global(flow.CountTrigger(10)), flow.Sum(func(e event) int { return e.Value }))
	out := flow.Collect(counts)
	if err := flow.Run(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	var sums []int
	for _, r := range out.Values() {
		sums = append(sums, r.Value)
	}
	if !slices.Equal(sums, []int{45, 145}) {
		t.Fatalf("sums %v, want [45 145]", sums)
	}
}
