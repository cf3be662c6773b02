package flow_test

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/eddy-streams/eddy/flow"
)

func ExampleMap() {
	job := flow.NewJob("receipts")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "coffee-bar", Cents: 450},
		{Card: "4000-02", Merchant: "fuel-station", Cents: 8_120},
	}, flow.SourceOptions[Payment]{})
	receipts := flow.Map(payments, "receipt", func(p Payment) string {
		return fmt.Sprintf("%s: %s at %s", p.Card, euros(p.Cents), p.Merchant)
	})
	flow.Print(receipts, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 4000-01: €4.50 at coffee-bar
	// 4000-02: €81.20 at fuel-station
}

func ExampleFilter() {
	job := flow.NewJob("large-payments")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "coffee-bar", Cents: 450},
		{Card: "4000-02", Merchant: "jeweller", Cents: 250_000},
		{Card: "4000-03", Merchant: "grocer", Cents: 3_999},
	}, flow.SourceOptions[Payment]{})
	// Payments of €1,000 or more go to manual review.
	large := flow.Filter(payments, "large", func(p Payment) bool { return p.Cents >= 100_000 })
	flow.Print(flow.Map(large, "card", func(p Payment) string { return p.Card + " " + euros(p.Cents) }), "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 4000-02 €2500.00
}

func ExampleFlatMap() {
	// A truck's modem uploads its GPS fixes in packets.
	type packet struct {
		Truck string
		Fixes []Reading
	}
	job := flow.NewJob("unpack")
	packets := flow.FromSlice(job, "packets", []packet{
		{Truck: "truck-7", Fixes: []Reading{{KmH: 82, Time: 1_000}, {KmH: 85, Time: 2_000}}},
		{Truck: "truck-9"}, // an empty keep-alive packet emits nothing
		{Truck: "truck-7", Fixes: []Reading{{KmH: 64, Time: 3_000}}},
	}, flow.SourceOptions[packet]{})
	fixes := flow.FlatMap(packets, "unpack", func(p packet, emit func(Reading)) {
		for _, r := range p.Fixes {
			r.Truck = p.Truck
			emit(r)
		}
	})
	flow.Print(fixes, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-7@1s: 82 km/h
	// truck-7@2s: 85 km/h
	// truck-7@3s: 64 km/h
}

func ExampleKeyBy() {
	job := flow.NewJob("bid-counts")
	bids := flow.FromSlice(job, "bids", []Bid{
		{Auction: 1, Bidder: "ana", Cents: 1_000},
		{Auction: 2, Bidder: "ben", Cents: 5_000},
		{Auction: 1, Bidder: "cho", Cents: 1_200},
		{Auction: 1, Bidder: "ana", Cents: 1_500},
	}, flow.SourceOptions[Bid]{})
	// Every bid of one auction reaches the same subtask, which keeps that auction's count.
	perAuction := flow.KeyBy(bids, func(b Bid) int64 { return b.Auction })
	counts := flow.Process(perAuction, "count", func(rt *flow.Runtime[int64]) flow.KeyedProcessor[int64, Bid, string] {
		n := flow.NewValueState[int](rt, "bids")
		return flow.KeyedProcessor[int64, Bid, string]{
			Element: func(ctx *flow.ProcessContext[int64, string], b Bid) {
				c, _ := n.Value()
				n.Update(c + 1)
				ctx.Emit(fmt.Sprintf("auction %d: bid #%d by %s", ctx.Key(), c+1, b.Bidder))
			},
		}
	})
	flow.Print(counts, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// auction 1: bid #1 by ana
	// auction 2: bid #1 by ben
	// auction 1: bid #2 by cho
	// auction 1: bid #3 by ana
}

func ExampleUnion() {
	job := flow.NewJob("all-payments")
	terminals := flow.FromSlice(job, "card-present", []Payment{
		{Card: "4000-01", Merchant: "grocer", Cents: 2_310},
		{Card: "4000-02", Merchant: "bakery", Cents: 380},
	}, flow.SourceOptions[Payment]{})
	online := flow.FromSlice(job, "e-commerce", []Payment{
		{Card: "4000-01", Merchant: "webshop", Cents: 12_900},
	}, flow.SourceOptions[Payment]{})
	all := flow.Union("all", 1, terminals, online)
	out := flow.Collect(flow.Map(all, "describe", func(p Payment) string { return p.Card + " at " + p.Merchant }))
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// The two sources run concurrently: their records interleave in any order.
	got := out.Values()
	slices.Sort(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// 4000-01 at grocer
	// 4000-01 at webshop
	// 4000-02 at bakery
}
