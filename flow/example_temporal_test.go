package flow_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/eddy-streams/eddy/flow"
)

// A watchlist bought from a data provider changes over time; each payment is checked
// against the list as it was when the payment happened, however late the update or the
// payment arrives.
func ExampleTemporalJoin() {
	type listing struct {
		Merchant string
		Listed   bool
		At       int64
	}
	type payment struct {
		Merchant string
		Cents    int
		At       int64
	}
	job := flow.NewJob("watchlist")
	list := flow.FromSlice(job, "watchlist", []listing{{"m-7", true, 1_000}, {"m-7", false, 5_000}},
		flow.SourceOptions[listing]{Timestamp: func(l listing) int64 { return l.At }, Watermarks: flow.Monotonous()})
	pays := flow.FromSlice(job, "payments", []payment{{"m-7", 900, 500}, {"m-7", 4_200, 2_000}, {"m-7", 310, 6_000}},
		flow.SourceOptions[payment]{Timestamp: func(p payment) int64 { return p.At }, Watermarks: flow.Monotonous()})
	checked := flow.TemporalJoin(
		flow.KeyBy(pays, func(p payment) string { return p.Merchant }),
		flow.KeyBy(list, func(l listing) string { return l.Merchant }),
		"check", func(p payment, l listing, found bool) (string, bool) {
			return fmt.Sprintf("t=%d %d cents listed=%v", p.At, p.Cents, found && l.Listed), true
		})
	out := flow.Collect(checked)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
		return
	}
	lines := out.Values()
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// t=2000 4200 cents listed=true
	// t=500 900 cents listed=false
	// t=6000 310 cents listed=false
}
