package flow_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

func ExampleCollect() {
	job := flow.NewJob("bids-per-auction")
	bids := flow.FromSlice(job, "bids", []Bid{
		{Auction: 1, Time: 5_000}, {Auction: 1, Time: 7_000}, {Auction: 2, Time: 12_000},
	}, flow.SourceOptions[Bid]{Timestamp: Bid.EventTime, Watermarks: flow.Monotonous()})
	perAuction := flow.KeyBy(bids, func(b Bid) int64 { return b.Auction })
	counts := flow.WindowAggregate(perAuction, "count", flow.Tumbling(10*time.Second), flow.Count[Bid]())
	out := flow.Collect(counts)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// A window's result carries the window's last millisecond as its event time.
	for _, r := range out.Records() {
		fmt.Printf("auction %d: bids=%d (event time %d)\n", r.Value.Key, r.Value.Value, r.Time)
	}
	// Output:
	// auction 1: bids=2 (event time 9999)
	// auction 2: bids=1 (event time 19999)
}

func ExampleSink() {
	// ledger stands in for an external system, such as a database table.
	var ledger strings.Builder
	job := flow.NewJob("ledger")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "grocer", Cents: 2_310, Time: 1_000},
		{Card: "4000-02", Merchant: "bakery", Cents: 380, Time: 2_000},
	}, flow.SourceOptions[Payment]{Timestamp: Payment.EventTime})
	flow.Sink(payments, "ledger", func(p Payment, ts int64) error {
		_, err := fmt.Fprintf(&ledger, "%d\t%s\t%s\t%s\n", ts, p.Card, p.Merchant, euros(p.Cents))
		return err // an error fails the job
	})
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	fmt.Print(ledger.String())
	// Output:
	// 1000	4000-01	grocer	€23.10
	// 2000	4000-02	bakery	€3.80
}

func ExamplePrint() {
	job := flow.NewJob("print")
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", KmH: 82, Time: 1_000},
		{Truck: "truck-7", KmH: 131, Time: 2_000},
	}, flow.SourceOptions[Reading]{})
	speeding := flow.Filter(fixes, "speeding", func(r Reading) bool { return r.KmH > 120 })
	flow.Print(speeding, "print", os.Stdout) // formats with %v: Reading's String method
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-7@2s: 131 km/h
}

func ExampleRun() {
	errUnavailable := errors.New("ledger unavailable")
	job := flow.NewJob("ledger")
	payments := flow.FromSlice(job, "payments", []Payment{{Card: "4000-01", Cents: 2_310}}, flow.SourceOptions[Payment]{})
	flow.Sink(payments, "ledger", func(Payment, int64) error { return errUnavailable })
	// Run returns when every record has reached the sinks, ctx ends, or an operator fails:
	// the first failure stops the job and is returned, naming the failed subtask.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := flow.Run(ctx, job)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errUnavailable))
	// Output:
	// job "ledger": payments[0]: sink ledger: ledger unavailable
	// true
}
