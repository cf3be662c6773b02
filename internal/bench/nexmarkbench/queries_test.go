package nexmarkbench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/nexmark"
)

// bound is the watermark's out-of-orderness, as the Flink suite declares it.
const bound = 4 * time.Second

// testConfigs are the streams the queries are checked on: one slow enough for many
// windows and sessions, with events shuffled within half-second groups; and one at the
// published rate, where everything falls in one or two windows that fire at the end.
func testConfigs() map[string]nexmark.Config {
	slow := nexmark.DefaultConfig()
	slow.MaxEvents = 100_000
	slow.FirstEventRate = 1_000 // 100 s of event time
	slow.OutOfOrderGroupSize = 500
	fast := nexmark.DefaultConfig()
	fast.MaxEvents = 100_000
	return map[string]nexmark.Config{"slow-out-of-order": slow, "published-rate": fast}
}

func generate(t testing.TB, cfg nexmark.Config) []nexmark.Event {
	t.Helper()
	g, err := nexmark.NewGenerator(cfg, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	var out []nexmark.Event
	var e nexmark.Event
	for g.Next(&e) {
		out = append(out, e)
	}
	return out
}

// source builds a job's event stream.
type source func(job *flow.Job) (*flow.Stream[nexmark.Event], error)

func memorySource(cfg nexmark.Config) source {
	return func(job *flow.Job) (*flow.Stream[nexmark.Event], error) {
		return FromGenerator(job, cfg, 2, bound)
	}
}

// run runs one query over src at parallelism 2 and returns its rows in arrival order
// per producing subtask.
func run[R any](t *testing.T, src source, query func(*flow.Stream[nexmark.Event]) *flow.Stream[R]) []R {
	t.Helper()
	return runWith(t, flow.JobOptions{Parallelism: 2}, src, query)
}

func runWith[R any](t *testing.T, opts flow.JobOptions, src source, query func(*flow.Stream[nexmark.Event]) *flow.Stream[R]) []R {
	t.Helper()
	job := flow.NewJob("test", opts)
	events, err := src(job)
	if err != nil {
		t.Fatal(err)
	}
	out := flow.Collect(query(events))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := flow.Run(ctx, job); err != nil {
		t.Fatal(err)
	}
	return out.Values()
}

// sameRows compares rows as sorted multisets and reports the first differences.
func sameRows[R any](t *testing.T, what string, got, want []R, compare func(a, b R) int) {
	t.Helper()
	got = slices.Clone(got)
	slices.SortFunc(got, compare)
	if len(want) == 0 {
		t.Errorf("%s: the expected answer is empty, so the check proves nothing", what)
	}
	if slices.EqualFunc(got, want, func(a, b R) bool { return compare(a, b) == 0 }) {
		return
	}
	var diffs []string
	for i, j := 0, 0; (i < len(got) || j < len(want)) && len(diffs) < 5; {
		switch {
		case j == len(want) || i < len(got) && compare(got[i], want[j]) < 0:
			diffs = append(diffs, fmt.Sprintf("extra   %+v", got[i]))
			i++
		case i == len(got) || compare(got[i], want[j]) > 0:
			diffs = append(diffs, fmt.Sprintf("missing %+v", want[j]))
			j++
		default:
			i++
			j++
		}
	}
	t.Errorf("%s: %d rows, want %d; first differences:\n%s", what, len(got), len(want), joinLines(diffs))
}

func joinLines(lines []string) string {
	s := ""
	for _, l := range lines {
		s += "  " + l + "\n"
	}
	return s
}

// finalAverages keeps each category's last running average: a category is kept by one
// subtask, whose rows arrive in order.
func finalAverages(rows []nexmark.Q4Result) []nexmark.Q4Result {
	last := map[int64]int64{}
	for _, r := range rows {
		last[r.Category] = r.Avg
	}
	var out []nexmark.Q4Result
	for c, avg := range last {
		out = append(out, nexmark.Q4Result{Category: c, Avg: avg})
	}
	return out
}

// checkQ12 checks what holds of processing-time windows whatever the clock: every bid
// is counted once, in a 10 s window aligned to the epoch, one row per bidder and window.
func checkQ12(t *testing.T, what string, rows []nexmark.BidderCount, events []nexmark.Event) {
	t.Helper()
	bids := map[int64]int64{}
	for i := range events {
		if events[i].Kind == nexmark.KindBid {
			bids[events[i].Bid.Bidder]++
		}
	}
	counted := map[int64]int64{}
	type window struct{ bidder, start int64 }
	seen := map[window]bool{}
	for _, r := range rows {
		if r.End-r.Start != windowMs || r.Start%windowMs != 0 || r.Count <= 0 {
			t.Fatalf("%s: row %+v is not a count over a tumbling 10 s window", what, r)
		}
		if w := (window{r.Bidder, r.Start}); seen[w] {
			t.Fatalf("%s: two rows for bidder %d's window at %d", what, r.Bidder, r.Start)
		} else {
			seen[w] = true
		}
		counted[r.Bidder] += r.Count
	}
	if len(counted) != len(bids) {
		t.Errorf("%s: rows for %d bidders, want %d", what, len(counted), len(bids))
	}
	for b, n := range bids {
		if counted[b] != n {
			t.Errorf("%s: bidder %d has %d bids counted, placed %d", what, b, counted[b], n)
		}
	}
}

// checkAll runs every query over src and checks it against the reference answers of
// events, the same events src delivers.
func checkAll(t *testing.T, src source, events []nexmark.Event) {
	t.Run("q0", func(t *testing.T) { sameRows(t, "q0", run(t, src, Q0), nexmark.Q0(events), nexmark.BidRow.Compare) })
	t.Run("q1", func(t *testing.T) { sameRows(t, "q1", run(t, src, Q1), nexmark.Q1(events), nexmark.BidRow.Compare) })
	t.Run("q2", func(t *testing.T) { sameRows(t, "q2", run(t, src, Q2), nexmark.Q2(events), nexmark.Q2Result.Compare) })
	t.Run("q3", func(t *testing.T) { sameRows(t, "q3", run(t, src, Q3), nexmark.Q3(events), nexmark.Q3Result.Compare) })
	t.Run("q4", func(t *testing.T) {
		sameRows(t, "q4 final averages", finalAverages(run(t, src, Q4)), nexmark.Q4(events), nexmark.Q4Result.Compare)
	})
	t.Run("q5", func(t *testing.T) { sameRows(t, "q5", run(t, src, Q5), nexmark.Q5(events), nexmark.Q5Result.Compare) })
	t.Run("q7", func(t *testing.T) { sameRows(t, "q7", run(t, src, Q7), nexmark.Q7(events), nexmark.BidRow.Compare) })
	t.Run("q8", func(t *testing.T) { sameRows(t, "q8", run(t, src, Q8), nexmark.Q8(events), nexmark.Q8Result.Compare) })
	t.Run("q11", func(t *testing.T) {
		sameRows(t, "q11", run(t, src, Q11), nexmark.Q11(events), nexmark.BidderCount.Compare)
	})
	t.Run("q12", func(t *testing.T) { checkQ12(t, "q12", run(t, src, Q12), events) })
}

// TestQueriesMatchReference runs every query on the generator at parallelism 2 with
// watermarks 4 s behind, as the Flink suite runs them, and compares the sorted rows
// with package nexmark's brute-force answers.
func TestQueriesMatchReference(t *testing.T) {
	for name, cfg := range testConfigs() {
		t.Run(name, func(t *testing.T) {
			checkAll(t, memorySource(cfg), generate(t, cfg))
		})
	}
}

// TestQ7BoundaryBids checks the rule most easily got wrong: a bid at exactly a window's
// end belongs to the next window, yet is also a row of the window it ends if its price
// equals that window's maximum. One such bid arrives well after the watermark reached
// the millisecond before it, which it may: the window must still wait for it.
func TestQ7BoundaryBids(t *testing.T) {
	const t0 = nexmark.DefaultBaseTime
	bid := func(auction, price, at int64) nexmark.Event {
		return nexmark.Event{Kind: nexmark.KindBid, Bid: nexmark.Bid{Auction: auction, Bidder: 1, Price: price, DateTime: t0 + at}}
	}
	events := []nexmark.Event{
		bid(1, 500, 3_000), bid(2, 100, 9_999),
		bid(6, 50, 14_000),  // the watermark reaches 9,999 ms, the last of [0, 10 s)
		bid(3, 500, 10_000), // the end of [0, 10 s) with its maximum, and its own window's highest
		bid(4, 200, 20_000), // the end of [10 s, 20 s), whose maximum is 500
		bid(5, 700, 30_000), // the end of [20 s, 30 s), which has no bids
	}
	src := func(job *flow.Job) (*flow.Stream[nexmark.Event], error) {
		return flow.FromGenerator(job, "events", 1, func(int, int) func(*nexmark.Event) bool {
			i := 0
			return func(e *nexmark.Event) bool {
				if i == len(events) {
					return false
				}
				if i == 3 {
					// Time for the watermark of 9,999 ms to reach every operator.
					time.Sleep(200 * time.Millisecond)
				}
				*e = events[i]
				i++
				return true
			}
		}, flow.SourceOptions[nexmark.Event]{Timestamp: eventTime, Watermarks: flow.BoundedOutOfOrderness(bound)}), nil
	}
	want := nexmark.Q7(events)
	if len(want) != 5 {
		t.Fatalf("the reference has %d rows, this test expects 5: %+v", len(want), want)
	}
	// Batches of one record: the source sends a watermark after every event.
	sameRows(t, "q7", runWith(t, flow.JobOptions{Parallelism: 2, BatchSize: 1}, src, Q7), want, nexmark.BidRow.Compare)
}
