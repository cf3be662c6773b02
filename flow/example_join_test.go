package flow_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// Flag payments made within 10 minutes after a card's first use on a new device: a
// pattern of account takeover.
func ExampleIntervalJoin() {
	type login struct {
		Card, Device string
		Time         int64
	}
	job := flow.NewJob("takeover")
	logins := flow.FromSlice(job, "new-devices", []login{
		{"4000-01", "new-phone", 0}, {"4000-02", "new-laptop", 5 * 60_000},
	}, flow.SourceOptions[login]{Timestamp: func(l login) int64 { return l.Time }, Watermarks: flow.Monotonous()})
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-02", Merchant: "grocer", Cents: 2_300, Time: 60_000}, // before the login
		{Card: "4000-01", Merchant: "electronics", Cents: 99_900, Time: 4 * 60_000},
		{Card: "4000-02", Merchant: "jeweller", Cents: 45_000, Time: 9 * 60_000},
		{Card: "4000-01", Merchant: "bakery", Cents: 450, Time: 30 * 60_000}, // 30 minutes after
	}, flow.SourceOptions[Payment]{Timestamp: Payment.EventTime, Watermarks: flow.Monotonous()})
	suspicious := flow.IntervalJoin(
		flow.KeyBy(logins, func(l login) string { return l.Card }),
		flow.KeyBy(payments, func(p Payment) string { return p.Card }),
		"takeover", 0, 10*time.Minute, func(l login, p Payment) string {
			return fmt.Sprintf("%s: %s at %s, %v after a login from %s", p.Card, euros(p.Cents), p.Merchant, at(p.Time-l.Time), l.Device)
		})
	out := flow.Collect(suspicious)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	got := out.Values() // the two inputs interleave in any order
	slices.Sort(got)
	for _, s := range got {
		fmt.Println(s)
	}
	// Output:
	// 4000-01: €999.00 at electronics, 4m0s after a login from new-phone
	// 4000-02: €450.00 at jeweller, 4m0s after a login from new-laptop
}

// Suggest a refuelling stop to trucks that report low fuel and pass a fuel station in
// the same 5 minutes.
func ExampleWindowJoin() {
	type lowFuel struct {
		Truck string
		FuelL float64
		Time  int64
	}
	type nearStation struct {
		Truck, Station string
		Time           int64
	}
	job := flow.NewJob("refuel")
	alerts := flow.FromSlice(job, "low-fuel", []lowFuel{{"truck-7", 38, 60_000}, {"truck-9", 41, 420_000}},
		flow.SourceOptions[lowFuel]{Timestamp: func(l lowFuel) int64 { return l.Time }, Watermarks: flow.Monotonous()})
	stations := flow.FromSlice(job, "near-station", []nearStation{
		{"truck-7", "A7 Hamburg-Stellingen", 180_000},
		{"truck-9", "A1 Bremen-Nord", 200_000}, // before truck-9 ran low: another window
		{"truck-7", "A7 Holmmoor", 600_000},    // after the window
	}, flow.SourceOptions[nearStation]{Timestamp: func(n nearStation) int64 { return n.Time }, Watermarks: flow.Monotonous()})
	stops := flow.WindowJoin(
		flow.KeyBy(alerts, func(l lowFuel) string { return l.Truck }),
		flow.KeyBy(stations, func(n nearStation) string { return n.Truck }),
		"refuel", flow.Tumbling(5*time.Minute), func(truck string, w flow.Window, l lowFuel, n nearStation) string {
			return fmt.Sprintf("%s (%gL left): refuel at %s", truck, l.FuelL, n.Station)
		})
	flow.Print(stops, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
	// Output:
	// truck-7 (38L left): refuel at A7 Hamburg-Stellingen
}

// Enrich payments with the merchant's category from a table stream. The lookup happens
// in processing time, when the payment arrives: the table's latest row for the key, or
// found == false if none has arrived yet. The payments and the table are read
// concurrently, so which rows a payment sees depends on timing; this example has no
// checked output for that reason. Join in event time (a CoProcess or ProcessBroadcast
// with timers) when the result must be reproducible.
func ExampleLookupJoin() {
	type category struct{ Merchant, MCC string }
	job := flow.NewJob("enrich")
	payments := flow.FromSlice(job, "payments", []Payment{
		{Card: "4000-01", Merchant: "m-1001", Cents: 4_500},
		{Card: "4000-02", Merchant: "m-2002", Cents: 120_000},
	}, flow.SourceOptions[Payment]{})
	categories := flow.FromSlice(job, "merchant-categories", []category{
		{"m-1001", "5812 restaurants"}, {"m-2002", "7995 gambling"},
	}, flow.SourceOptions[category]{})
	enriched := flow.LookupJoin(
		flow.KeyBy(payments, func(p Payment) string { return p.Merchant }),
		flow.KeyBy(categories, func(c category) string { return c.Merchant }),
		"categorize", func(p Payment, c category, found bool) (string, bool) {
			if !found {
				c.MCC = "unknown: hold for review"
			}
			return fmt.Sprintf("%s %s at %s (%s)", p.Card, euros(p.Cents), p.Merchant, c.MCC), true
		})
	flow.Print(enriched, "print", os.Stdout)
	if err := flow.Run(context.Background(), job); err != nil {
		fmt.Println(err)
	}
}
