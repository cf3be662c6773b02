package flow_test

import (
	"context"
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// Each truck's top speed per minute.
func ExampleTumbling() {
	job := flow.NewJob("top-speed-per-minute")
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", KmH: 82, Time: 10_000}, {Truck: "truck-9", KmH: 64, Time: 15_000},
		{Truck: "truck-7", KmH: 97, Time: 40_000}, {Truck: "truck-7", KmH: 88, Time: 70_000},
	}, flow.SourceOptions[Reading]{Timestamp: Reading.EventTime, Watermarks: flow.Monotonous()})
	perTruck := flow.KeyBy(fixes, func(r Reading) string { return r.Truck })
	top := flow.WindowAggregate(perTruck, "top-speed", flow.Tumbling(time.Minute), flow.Max(func(r Reading) float64 { return r.KmH }))
	out := flow.Collect(top)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, r := range out.Values() {
		fmt.Printf("%s [%v, %v): %g km/h\n", r.Key, at(r.Window.Start), at(r.Window.End), r.Value)
	}
	// Output:
	// truck-7 [0s, 1m0s): 97 km/h
	// truck-9 [0s, 1m0s): 64 km/h
	// truck-7 [1m0s, 2m0s): 88 km/h
}

// Count a card's payments over the last 10 minutes, every 5 minutes: a velocity check.
func ExampleSliding() {
	job := flow.NewJob("velocity")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Time: 11 * 60_000}, {Card: "4000-01", Time: 13 * 60_000},
		{Card: "4000-01", Time: 14 * 60_000}, {Card: "4000-01", Time: 18 * 60_000},
	}, flow.SourceOptions[Payment]{Timestamp: Payment.EventTime, Watermarks: flow.Monotonous()})
	perCard := flow.KeyBy(payments, func(p Payment) string { return p.Card })
	counts := flow.WindowAggregate(perCard, "velocity", flow.Sliding(10*time.Minute, 5*time.Minute), flow.Count[Payment]())
	out := flow.Collect(counts)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, r := range out.Values() {
		fmt.Printf("%s [%v, %v): payments=%d\n", r.Key, at(r.Window.Start), at(r.Window.End), r.Value)
	}
	// Output:
	// 4000-01 [5m0s, 15m0s): payments=3
	// 4000-01 [10m0s, 20m0s): payments=4
	// 4000-01 [15m0s, 25m0s): payments=1
}

// Group each bidder's bids into sessions of activity separated by 30 s of silence.
func ExampleSession() {
	job := flow.NewJob("bidder-sessions")
	bids := flow.FromSlice(job, "bids", []Bid{
		{Bidder: "ana", Time: 0}, {Bidder: "ana", Time: 20_000}, {Bidder: "ana", Time: 45_000},
		{Bidder: "ana", Time: 120_000}, // 75 s later: a new session
	}, flow.SourceOptions[Bid]{Timestamp: Bid.EventTime, Watermarks: flow.Monotonous()})
	perBidder := flow.KeyBy(bids, func(b Bid) string { return b.Bidder })
	sessions := flow.WindowAggregate(perBidder, "sessions", flow.Session(30*time.Second), flow.Count[Bid]())
	out := flow.Collect(sessions)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// A session ends one gap after its last record.
	for _, r := range out.Values() {
		fmt.Printf("%s [%v, %v): bids=%d\n", r.Key, at(r.Window.Start), at(r.Window.End), r.Value)
	}
	// Output:
	// ana [0s, 1m15s): bids=3
	// ana [2m0s, 2m30s): bids=1
}

// Report the highest of every three bids on an auction.
func ExampleGlobal() {
	job := flow.NewJob("every-third-bid")
	var bids []Bid
	for i, cents := range []int64{1_000, 1_500, 1_200, 2_000, 2_600, 2_400, 3_000} {
		bids = append(bids, Bid{Auction: 1, Cents: cents, Time: int64(i) * 1_000})
	}
	src := flow.FromSlice(job, "bids", bids, flow.SourceOptions[Bid]{Timestamp: Bid.EventTime})
	perAuction := flow.KeyBy(src, func(b Bid) int64 { return b.Auction })
	highest := flow.WindowAggregate(perAuction, "highest", flow.Global(flow.CountTrigger(3)), flow.Max(func(b Bid) int64 { return b.Cents }))
	out := flow.Collect(highest)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// The seventh bid waits for two more: a global window never fires on its own.
	for _, r := range out.Values() {
		fmt.Printf("auction %d: %s\n", r.Key, euros(r.Value))
	}
	// Output:
	// auction 1: €15.00
	// auction 1: €26.00
}

// A card's hourly spending, five ways.
func ExampleWindowAggregate() {
	job := flow.NewJob("hourly-spend")
	const hour = 3_600_000
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Cents: 1_200, Time: 0}, {Card: "4000-02", Cents: 9_900, Time: 60_000},
		{Card: "4000-01", Cents: 4_500, Time: 120_000}, {Card: "4000-01", Cents: 300, Time: 180_000},
		{Card: "4000-01", Cents: 2_000, Time: hour + 60_000},
	}, flow.SourceOptions[Payment]{Timestamp: Payment.EventTime, Watermarks: flow.Monotonous()})
	perCard := flow.KeyBy(payments, func(p Payment) string { return p.Card })
	hourly := flow.Tumbling(time.Hour)
	cents := func(p Payment) int64 { return p.Cents }
	count := flow.Collect(flow.WindowAggregate(perCard, "count", hourly, flow.Count[Payment]()))
	sum := flow.Collect(flow.WindowAggregate(perCard, "sum", hourly, flow.Sum(cents)))
	avg := flow.Collect(flow.WindowAggregate(perCard, "avg", hourly, flow.Avg(cents)))
	low := flow.Collect(flow.WindowAggregate(perCard, "min", hourly, flow.Min(cents)))
	high := flow.Collect(flow.WindowAggregate(perCard, "max", hourly, flow.Max(cents)))
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// The five operators see the same records in the same order, so they fire the same
	// windows in the same order.
	for i, c := range count.Values() {
		fmt.Printf("%s hour %d: count %d, total %s, average %s, smallest %s, largest %s\n",
			c.Key, c.Window.Start/hour, c.Value, euros(sum.Values()[i].Value), euros(int64(avg.Values()[i].Value)),
			euros(low.Values()[i].Value), euros(high.Values()[i].Value))
	}
	// Output:
	// 4000-01 hour 0: count 3, total €60.00, average €20.00, smallest €3.00, largest €45.00
	// 4000-02 hour 0: count 1, total €99.00, average €99.00, smallest €99.00, largest €99.00
	// 4000-01 hour 1: count 1, total €20.00, average €20.00, smallest €20.00, largest €20.00
}

// Pick each minute's winning bid per auction from all the bids of the window.
func ExampleWindowProcess() {
	job := flow.NewJob("minute-winners")
	bids := flow.FromSlice(job, "bids", []Bid{
		{Auction: 1, Bidder: "ana", Cents: 1_000, Time: 5_000},
		{Auction: 1, Bidder: "ben", Cents: 1_200, Time: 20_000},
		{Auction: 1, Bidder: "cho", Cents: 1_200, Time: 50_000}, // ties with ben, later
		{Auction: 1, Bidder: "ana", Cents: 1_100, Time: 65_000},
		{Auction: 1, Bidder: "ben", Cents: 1_050, Time: 80_000},
	}, flow.SourceOptions[Bid]{Timestamp: Bid.EventTime, Watermarks: flow.Monotonous()})
	perAuction := flow.KeyBy(bids, func(b Bid) int64 { return b.Auction })
	winners := flow.WindowProcess(perAuction, "winner", flow.Tumbling(time.Minute),
		func(auction int64, w flow.Window, bids []Bid, emit func(string)) {
			best := bids[0]
			for _, b := range bids[1:] { // in arrival order: the earlier of equal bids wins
				if b.Cents > best.Cents {
					best = b
				}
			}
			emit(fmt.Sprintf("auction %d [%v, %v): %s wins with %s of %d bids",
				auction, at(w.Start), at(w.End), best.Bidder, euros(best.Cents), len(bids)))
		})
	out := flow.Collect(winners)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, s := range out.Values() {
		fmt.Println(s)
	}
	// Output:
	// auction 1 [0s, 1m0s): ben wins with €12.00 of 3 bids
	// auction 1 [1m0s, 2m0s): ana wins with €11.00 of 2 bids
}

// Count fuel readings per truck and minute, accepting readings up to 30 s late and
// sending later ones to a side output.
func ExampleWindowOptions() {
	// Batches of one record make the source's watermark advance after every record.
	job := flow.NewJob("late-readings", flow.JobOptions{BatchSize: 1})
	readings := flow.FromSlice(job, "readings", []Reading{
		{Truck: "truck-7", FuelL: 410, Time: 10_000},
		{Truck: "truck-7", FuelL: 402, Time: 50_000},
		{Truck: "truck-7", FuelL: 395, Time: 70_000}, // the watermark passes 1m: [0s, 1m) fires
		{Truck: "truck-7", FuelL: 399, Time: 55_000}, // late, within the allowed lateness: fires again
		{Truck: "truck-7", FuelL: 381, Time: 100_000},
		{Truck: "truck-7", FuelL: 405, Time: 20_000}, // more than 30 s late: a side output
	}, flow.SourceOptions[Reading]{Timestamp: Reading.EventTime, Watermarks: flow.Monotonous()})
	tooLate := flow.NewSideOutput[Reading]("too-late")
	perTruck := flow.KeyBy(readings, func(r Reading) string { return r.Truck })
	counts := flow.WindowAggregate(perTruck, "count", flow.Tumbling(time.Minute), flow.Count[Reading](),
		flow.WindowOptions[Reading]{AllowedLateness: 30 * time.Second, LateData: tooLate})
	results, late := flow.Collect(counts), flow.Collect(flow.SideStream(counts, tooLate))
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	for _, r := range results.Values() {
		fmt.Printf("%s [%v, %v): %d readings\n", r.Key, at(r.Window.Start), at(r.Window.End), r.Value)
	}
	for _, r := range late.Values() {
		fmt.Printf("too late: %s %gL @%v\n", r.Truck, r.FuelL, at(r.Time))
	}
	// Output:
	// truck-7 [0s, 1m0s): 2 readings
	// truck-7 [0s, 1m0s): 3 readings
	// truck-7 [1m0s, 2m0s): 2 readings
	// too late: truck-7 405L @20s
}
