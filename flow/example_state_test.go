package flow_test

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// Alert on card authorizations that are not captured within 10 s of event time.
func ExampleProcess() {
	type cardEvent struct {
		Card, Kind string // Kind is "auth" or "capture"
		Time       int64
	}
	const limit = 10_000
	job := flow.NewJob("uncaptured")
	events := flow.FromSlice(job, "card-events", []cardEvent{
		{"4000-01", "auth", 0}, {"4000-01", "capture", 4_000},
		{"4000-02", "auth", 5_000},
		{"4000-03", "auth", 8_000}, {"4000-03", "capture", 20_000}, // captured too late
		{"4000-04", "auth", 22_000},
	}, flow.SourceOptions[cardEvent]{Timestamp: func(e cardEvent) int64 { return e.Time }, Watermarks: flow.Monotonous()})
	perCard := flow.KeyBy(events, func(e cardEvent) string { return e.Card })
	alerts := flow.Process(perCard, "uncaptured", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, cardEvent, string] {
		authorized := flow.NewValueState[int64](rt, "authorized-at")
		return flow.KeyedProcessor[string, cardEvent, string]{
			Element: func(ctx *flow.ProcessContext[string, string], e cardEvent) {
				if e.Kind == "auth" {
					authorized.Update(e.Time)
					ctx.SetEventTimer(e.Time + limit)
					return
				}
				if t, ok := authorized.Value(); ok && e.Time <= t+limit {
					authorized.Clear()
					ctx.DeleteEventTimer(t + limit)
				}
			},
			Timer: func(ctx *flow.ProcessContext[string, string], t int64, _ flow.TimeDomain) {
				authorized.Clear()
				ctx.Emit(fmt.Sprintf("card %s: authorized at %v, not captured by %v", ctx.Key(), at(t-limit), at(t)))
			},
		}
	})
	flow.Print(alerts, "alerts", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// card 4000-02: authorized at 5s, not captured by 15s
	// card 4000-03: authorized at 8s, not captured by 18s
	// card 4000-04: authorized at 22s, not captured by 32s
}

// Buffer a truck's GPS fixes until the engine stops, then emit the trip.
func ExampleNewListState() {
	job := flow.NewJob("trips")
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", KmH: 40, Time: 0}, {Truck: "truck-9", KmH: 70, Time: 0},
		{Truck: "truck-7", KmH: 90, Time: 60_000}, {Truck: "truck-9", KmH: 75, Time: 60_000},
		{Truck: "truck-9", KmH: 0, Time: 120_000}, // engine off: truck-9's trip ends
		{Truck: "truck-7", KmH: 30, Time: 120_000}, {Truck: "truck-7", KmH: 0, Time: 180_000},
	}, flow.SourceOptions[Reading]{})
	perTruck := flow.KeyBy(fixes, func(r Reading) string { return r.Truck })
	trips := flow.Process(perTruck, "trips", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, Reading, string] {
		moving := flow.NewListState[Reading](rt, "moving")
		return flow.KeyedProcessor[string, Reading, string]{
			Element: func(ctx *flow.ProcessContext[string, string], r Reading) {
				if r.KmH > 0 {
					moving.Add(r)
					return
				}
				trip := moving.Get()
				if len(trip) == 0 {
					return // parked, and still parked
				}
				top := slices.MaxFunc(trip, func(a, b Reading) int { return cmp.Compare(a.KmH, b.KmH) })
				ctx.Emit(fmt.Sprintf("%s: trip of %d fixes from %v to %v, top speed %g km/h",
					ctx.Key(), len(trip), at(trip[0].Time), at(r.Time), top.KmH))
				moving.Clear()
			},
		}
	})
	flow.Print(trips, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-9: trip of 2 fixes from 0s to 2m0s, top speed 75 km/h
	// truck-7: trip of 3 fixes from 0s to 3m0s, top speed 90 km/h
}

// Keep each bidder's best bid per auction.
func ExampleNewMapState() {
	job := flow.NewJob("best-bids")
	bids := flow.FromSlice(job, "bids", []Bid{
		{Auction: 1, Bidder: "ana", Cents: 1_000},
		{Auction: 1, Bidder: "ben", Cents: 1_100},
		{Auction: 1, Bidder: "ana", Cents: 1_250},
		{Auction: 1, Bidder: "ben", Cents: 900}, // below ben's best: ignored
	}, flow.SourceOptions[Bid]{})
	perAuction := flow.KeyBy(bids, func(b Bid) int64 { return b.Auction })
	board := flow.Process(perAuction, "leaderboard", func(rt *flow.Runtime[int64]) flow.KeyedProcessor[int64, Bid, string] {
		best := flow.NewMapState[string, int64](rt, "best-by-bidder")
		return flow.KeyedProcessor[int64, Bid, string]{
			Element: func(ctx *flow.ProcessContext[int64, string], b Bid) {
				if prev, ok := best.Get(b.Bidder); ok && prev >= b.Cents {
					return
				}
				best.Put(b.Bidder, b.Cents)
				line := fmt.Sprintf("auction %d:", ctx.Key())
				all := best.All()
				for _, bidder := range slices.Sorted(maps.Keys(all)) {
					line += fmt.Sprintf(" %s=%s", bidder, euros(all[bidder]))
				}
				ctx.Emit(line)
			},
		}
	})
	flow.Print(board, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// auction 1: ana=€10.00
	// auction 1: ana=€10.00 ben=€11.00
	// auction 1: ana=€12.50 ben=€11.00
}

// Track each truck's top speed.
func ExampleNewReducingState() {
	job := flow.NewJob("top-speed")
	fixes := flow.FromSlice(job, "fixes", []Reading{
		{Truck: "truck-7", KmH: 82}, {Truck: "truck-7", KmH: 97}, {Truck: "truck-7", KmH: 88},
	}, flow.SourceOptions[Reading]{})
	perTruck := flow.KeyBy(fixes, func(r Reading) string { return r.Truck })
	top := flow.Process(perTruck, "top-speed", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, Reading, string] {
		fastest := flow.NewReducingState[float64](rt, "fastest", func(a, b float64) float64 { return max(a, b) })
		return flow.KeyedProcessor[string, Reading, string]{
			Element: func(ctx *flow.ProcessContext[string, string], r Reading) {
				fastest.Add(r.KmH)
				v, _ := fastest.Get()
				ctx.Emit(fmt.Sprintf("%s: %g km/h, top %g km/h", ctx.Key(), r.KmH, v))
			},
		}
	})
	flow.Print(top, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-7: 82 km/h, top 82 km/h
	// truck-7: 97 km/h, top 97 km/h
	// truck-7: 88 km/h, top 97 km/h
}

// Flag a payment five times above the card's average so far.
func ExampleNewAggregatingState() {
	job := flow.NewJob("unusual-amounts")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Cents: 2_000}, {Card: "4000-01", Cents: 4_000},
		{Card: "4000-01", Cents: 45_000}, {Card: "4000-01", Cents: 3_500},
	}, flow.SourceOptions[Payment]{})
	perCard := flow.KeyBy(payments, func(p Payment) string { return p.Card })
	flagged := flow.Process(perCard, "unusual", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, Payment, string] {
		avg := flow.NewAggregatingState(rt, "average", flow.Avg(func(p Payment) int64 { return p.Cents }))
		return flow.KeyedProcessor[string, Payment, string]{
			Element: func(ctx *flow.ProcessContext[string, string], p Payment) {
				if mean, ok := avg.Get(); ok && float64(p.Cents) > 5*mean {
					ctx.Emit(fmt.Sprintf("%s: %s is over 5× the average of %s", p.Card, euros(p.Cents), euros(int64(mean))))
				}
				avg.Add(p)
			},
		}
	})
	flow.Print(flagged, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 4000-01: €450.00 is over 5× the average of €30.00
}

// manualClock is processing time that the example moves by hand.
type manualClock struct{ now atomic.Int64 }

func (c *manualClock) NowMillis() int64 { return c.now.Load() }

// Count a card's declined attempts, forgetting them after 10 minutes without one.
func ExampleStateTTL() {
	type declined struct {
		Card    string
		Arrived int64 // processing time the decline reached the job, Unix ms
	}
	// Expiry follows processing time; to be reproducible the example replays recorded
	// arrival times through the job's clock instead of reading the wall clock.
	clock := &manualClock{}
	job := flow.NewJob("card-testing", flow.JobOptions{Clock: clock})
	declines := flow.FromSlice(job, "declines", []declined{
		{"4000-01", 0}, {"4000-01", 60_000}, // 1 minute apart: counted together
		{"4000-01", 60_000 + 11*60_000}, // 11 minutes later: the count expired
	}, flow.SourceOptions[declined]{})
	perCard := flow.KeyBy(declines, func(d declined) string { return d.Card })
	counts := flow.Process(perCard, "count", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, declined, string] {
		n := flow.NewValueState[int](rt, "declines", flow.StateTTL(10*time.Minute))
		return flow.KeyedProcessor[string, declined, string]{
			Element: func(ctx *flow.ProcessContext[string, string], d declined) {
				clock.now.Store(d.Arrived)
				c, _ := n.Value()
				n.Update(c + 1)
				ctx.Emit(fmt.Sprintf("%s @%v: decline #%d", d.Card, at(d.Arrived), c+1))
			},
		}
	})
	flow.Print(counts, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 4000-01 @0s: decline #1
	// 4000-01 @1m0s: decline #2
	// 4000-01 @12m0s: decline #1
}
