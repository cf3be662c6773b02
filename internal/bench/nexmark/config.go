package nexmark

import (
	"errors"
	"fmt"
)

// Defaults of the published generator, except where noted.
const (
	// DefaultBaseTime is the time of event number 0: 2024-01-01T00:00:00Z, a multiple
	// of every window size the queries use. The published default is the wall clock at
	// start-up, which would make runs differ.
	DefaultBaseTime int64 = 1_704_067_200_000
	// DefaultFirstEventRate is the rate of the published benchmark workloads (their
	// "tps"), 10 million events a second, so event time advances 0.1 µs an event.
	// The generator's own default is 10,000.
	DefaultFirstEventRate int64 = 10_000_000
)

// The id spaces start above zero so the queries' selections (auction % 123, category
// 10) match even in short runs, as in the published generator.
const (
	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5
)

// Config sets what a Generator produces. Start from DefaultConfig: the zero Config is
// not valid.
type Config struct {
	// Seed selects one of many equally shaped streams; generators with the same
	// Config produce the same events.
	Seed uint64
	// BaseTime is the event time, Unix milliseconds, of event number 0.
	BaseTime int64
	// FirstEventID is added to each event number to give its event id, which fixes the
	// event's kind, its entity ids and its random draws. Two streams with different
	// FirstEventIDs hold different events on the same timeline.
	FirstEventID int64
	// MaxEvents is the number of events in the whole stream, over all splits; 0 means
	// unbounded.
	MaxEvents int64
	// FirstEventRate is events per second of event time, over all splits together.
	FirstEventRate int64

	// PersonProportion, AuctionProportion and BidProportion are the mix of kinds:
	// of every Person+Auction+Bid consecutive event ids, the first PersonProportion are
	// people, the next AuctionProportion auctions, the rest bids.
	PersonProportion  int64
	AuctionProportion int64
	BidProportion     int64

	// NumActivePeople bounds how far back a random seller or bidder is drawn from.
	NumActivePeople int64
	// NumInFlightAuctions is how many recent auctions a random bid may name; it also
	// sets auction lengths, which average the time it takes to open that many more.
	NumInFlightAuctions int64
	// HotAuctionRatio, HotSellersRatio and HotBiddersRatio: a bid names the hot
	// auction, an auction the hot seller, a bid the hot bidder, with probability
	// 1 - 1/ratio. A ratio of 1 turns the skew off.
	HotAuctionRatio int64
	HotSellersRatio int64
	HotBiddersRatio int64

	// AvgPersonByteSize, AvgAuctionByteSize and AvgBidByteSize are the average sizes
	// the Extra field pads each kind to, counting 8 bytes per number and the length of
	// each string.
	AvgPersonByteSize  int
	AvgAuctionByteSize int
	AvgBidByteSize     int

	// OutOfOrderGroupSize shuffles events within consecutive groups of this many event
	// numbers (1: none), so event times go backwards within a group but never across
	// groups. A final partial group may be shuffled past MaxEvents, as published.
	OutOfOrderGroupSize int64
}

// DefaultConfig is the published configuration at the benchmark's event rate, with a
// fixed BaseTime and unbounded length.
func DefaultConfig() Config {
	return Config{
		BaseTime:            DefaultBaseTime,
		FirstEventRate:      DefaultFirstEventRate,
		PersonProportion:    1,
		AuctionProportion:   3,
		BidProportion:       46,
		NumActivePeople:     1000,
		NumInFlightAuctions: 100,
		HotAuctionRatio:     2,
		HotSellersRatio:     4,
		HotBiddersRatio:     4,
		AvgPersonByteSize:   200,
		AvgAuctionByteSize:  500,
		AvgBidByteSize:      100,
		OutOfOrderGroupSize: 1,
	}
}

// Validate reports the first setting a Generator cannot work with.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int64) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, is %d", name, v))
		}
	}
	notNegative := func(name string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, is %d", name, v))
		}
	}
	notNegative("FirstEventID", c.FirstEventID)
	notNegative("MaxEvents", c.MaxEvents)
	positive("FirstEventRate", c.FirstEventRate)
	positive("PersonProportion", c.PersonProportion)
	positive("AuctionProportion", c.AuctionProportion)
	notNegative("BidProportion", c.BidProportion)
	positive("NumActivePeople", c.NumActivePeople)
	positive("NumInFlightAuctions", c.NumInFlightAuctions)
	positive("HotAuctionRatio", c.HotAuctionRatio)
	positive("HotSellersRatio", c.HotSellersRatio)
	positive("HotBiddersRatio", c.HotBiddersRatio)
	notNegative("AvgPersonByteSize", int64(c.AvgPersonByteSize))
	notNegative("AvgAuctionByteSize", int64(c.AvgAuctionByteSize))
	notNegative("AvgBidByteSize", int64(c.AvgBidByteSize))
	positive("OutOfOrderGroupSize", c.OutOfOrderGroupSize)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nexmark config: %w", err)
	}
	return nil
}
