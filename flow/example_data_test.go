package flow_test

import (
	"fmt"
	"time"
)

// The examples share three kinds of records: card payments (fraud checks), truck
// telemetry (fleet monitoring) and auction bids. Times are event times in Unix
// milliseconds; the examples start the clock at 0 to keep them readable.

// Payment is a card payment as an acquirer reports it.
type Payment struct {
	Card     string
	Merchant string
	Cents    int64
	Time     int64
}

// EventTime is the time the card was used, for SourceOptions.Timestamp.
func (p Payment) EventTime() int64 { return p.Time }

// Reading is a truck's telemetry: a GPS fix with its speed and fuel level.
type Reading struct {
	Truck string
	KmH   float64
	FuelL float64
	Time  int64
}

// EventTime is the time the fix was taken, for SourceOptions.Timestamp.
func (r Reading) EventTime() int64 { return r.Time }

func (r Reading) String() string { return fmt.Sprintf("%s@%v: %g km/h", r.Truck, at(r.Time), r.KmH) }

// Bid is a bid in an auction.
type Bid struct {
	Auction int64
	Bidder  string
	Cents   int64
	Time    int64
}

// EventTime is the time the bid was placed, for SourceOptions.Timestamp.
func (b Bid) EventTime() int64 { return b.Time }

// euros formats an amount of cents.
func euros(cents int64) string { return fmt.Sprintf("€%d.%02d", cents/100, cents%100) }

// at formats an event time in milliseconds as a duration since the examples' epoch.
func at(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
