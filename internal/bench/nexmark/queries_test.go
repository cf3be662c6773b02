package nexmark

import (
	"slices"
	"testing"
)

// T0 is the start of a 10 s window; the fixture's times are offsets from it.
const T0 = DefaultBaseTime

func person(id int64, name, city, state string, at int64) Event {
	return Event{Kind: KindPerson, Person: Person{ID: id, Name: name, City: city, State: state, DateTime: T0 + at}}
}

func auction(id, seller, category, at, expires int64) Event {
	return Event{Kind: KindAuction, Auction: Auction{ID: id, Seller: seller, Category: category, DateTime: T0 + at, Expires: T0 + expires}}
}

func bid(auction, bidder, price, at int64) Event {
	return Event{Kind: KindBid, Bid: Bid{Auction: auction, Bidder: bidder, Price: price, DateTime: T0 + at, Extra: "x"}}
}

// fixture is a small stream whose query answers are worked out by hand below. Its
// order is deliberately not time order: none of the answers may depend on it.
var fixture = []Event{
	bid(1233, 2000, 50, 31_000),
	person(1000, "Alice", "Portland", "OR", 1_000),
	auction(1230, 1000, 10, 2_000, 9_000),
	bid(1230, 2000, 100, 3_000),
	person(1002, "Carol", "Phoenix", "AZ", 3_000),
	auction(1232, 1002, 11, 4_000, 20_000),
	bid(1232, 2003, 1000, 4_000),
	auction(1231, 1001, 10, 5_000, 9_000),
	auction(1234, 1000, 12, 6_000, 7_000),
	bid(1230, 2000, 300, 8_000),
	bid(1231, 2001, 250, 9_000),
	bid(1230, 2000, 500, 10_000),
	person(1001, "Bob", "Boise", "ID", 12_000),
	auction(1233, 1001, 10, 13_000, 30_000),
	bid(1233, 2002, 400, 14_000),
	bid(1231, 2001, 500, 20_000),
	bid(1233, 2002, 10, 24_000),
}

func row(auction, bidder, price, at int64) BidRow {
	return BidRow{Auction: auction, Bidder: bidder, Price: price, DateTime: T0 + at, Extra: "x"}
}

func check[R comparable](t *testing.T, query string, got, want []R) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", query, got, want)
	}
}

func TestQ0(t *testing.T) {
	check(t, "q0", Q0(fixture), []BidRow{
		row(1230, 2000, 100, 3_000), row(1230, 2000, 300, 8_000), row(1230, 2000, 500, 10_000),
		row(1231, 2001, 250, 9_000), row(1231, 2001, 500, 20_000),
		row(1232, 2003, 1000, 4_000),
		row(1233, 2000, 50, 31_000), row(1233, 2002, 10, 24_000), row(1233, 2002, 400, 14_000),
	})
}

func TestQ1(t *testing.T) {
	// price·89/100, truncated: 250 → 222, 50 → 44, 10 → 8.
	check(t, "q1", Q1(fixture), []BidRow{
		row(1230, 2000, 89, 3_000), row(1230, 2000, 267, 8_000), row(1230, 2000, 445, 10_000),
		row(1231, 2001, 222, 9_000), row(1231, 2001, 445, 20_000),
		row(1232, 2003, 890, 4_000),
		row(1233, 2000, 44, 31_000), row(1233, 2002, 8, 24_000), row(1233, 2002, 356, 14_000),
	})
}

func TestQ2(t *testing.T) {
	// 1230 = 10·123; 1231, 1232 and 1233 are not multiples.
	check(t, "q2", Q2(fixture), []Q2Result{{1230, 100}, {1230, 300}, {1230, 500}})
}

func TestQ3(t *testing.T) {
	// Category 10 auctions: 1230 by Alice (OR), 1231 and 1233 by Bob (ID). Carol is in
	// AZ and sells in 11; Alice's 1234 is in 12.
	check(t, "q3", Q3(fixture), []Q3Result{
		{"Alice", "Portland", "OR", 1230}, {"Bob", "Boise", "ID", 1231}, {"Bob", "Boise", "ID", 1233},
	})
}

func TestQ4(t *testing.T) {
	// Category 10: 1230 [2 s, 9 s] wins at 300 (the 500 at 10 s is after it expired);
	// 1231 [5 s, 9 s] at 250 (bid at 9 s: BETWEEN includes the end); 1233 [13 s, 30 s]
	// at 400. Average (300+250+400)/3 = 316.67, truncated. Category 11: 1232 wins at
	// 1000 with a bid at its opening millisecond. Category 12's 1234 had no bids.
	check(t, "q4", Q4(fixture), []Q4Result{{10, 316}, {11, 1000}})
}

func TestQ5(t *testing.T) {
	// Bids by time: 3 s 1230, 4 s 1232, 8 s 1230, 9 s 1231, 10 s 1230, 14 s 1233,
	// 20 s 1231, 24 s 1233, 31 s 1233. Each 10 s window starting on an even second
	// lists the auctions with its most bids.
	w := func(start, auction, count int64) Q5Result {
		return Q5Result{WindowStart: T0 + start, WindowEnd: T0 + start + 10_000, Auction: auction, Count: count}
	}
	check(t, "q5", Q5(fixture), []Q5Result{
		w(-6_000, 1230, 1),
		w(-4_000, 1230, 1), w(-4_000, 1232, 1),
		w(-2_000, 1230, 1), w(-2_000, 1232, 1), // the bid at 8 s is past [-2 s, 8 s)
		w(0, 1230, 2),
		w(2_000, 1230, 3),
		w(4_000, 1230, 2),
		w(6_000, 1230, 2),
		w(8_000, 1230, 2),
		w(10_000, 1230, 1), w(10_000, 1233, 1),
		w(12_000, 1231, 1), w(12_000, 1233, 1),
		w(14_000, 1231, 1), w(14_000, 1233, 1),
		w(16_000, 1231, 1), w(16_000, 1233, 1),
		w(18_000, 1231, 1), w(18_000, 1233, 1),
		w(20_000, 1231, 1), w(20_000, 1233, 1),
		w(22_000, 1233, 2),
		w(24_000, 1233, 2),
		w(26_000, 1233, 1),
		w(28_000, 1233, 1),
		w(30_000, 1233, 1),
	})
}

func TestQ7(t *testing.T) {
	// Window maxima: [0, 10 s) 1000, [10 s, 20 s) 500, [20 s, 30 s) 500,
	// [30 s, 40 s) 50. The 500 at 20 s is the maximum of its own window and, lying on
	// the closed end of [10 s, 20 s] whose maximum is also 500, a row for that one
	// too. The 500 at 10 s also lies on a closed end, of [0, 10 s], but that
	// window's maximum is 1000.
	check(t, "q7", Q7(fixture), []BidRow{
		row(1230, 2000, 500, 10_000),
		row(1231, 2001, 500, 20_000), row(1231, 2001, 500, 20_000),
		row(1232, 2003, 1000, 4_000),
		row(1233, 2000, 50, 31_000),
	})
}

func TestQ8(t *testing.T) {
	// Alice registers at 1 s and sells at 2 s and 6 s: one row. Carol registers at 3 s
	// and sells at 4 s. Bob sells at 5 s but registers at 12 s, a window later, where
	// his auction at 13 s makes the row.
	check(t, "q8", Q8(fixture), []Q8Result{{1000, "Alice", T0}, {1002, "Carol", T0}, {1001, "Bob", T0 + 10_000}})
}

func TestQ11(t *testing.T) {
	s := func(bidder, count, start, end int64) BidderCount {
		return BidderCount{Bidder: bidder, Count: count, Start: T0 + start, End: T0 + end}
	}
	check(t, "q11", Q11(fixture), []BidderCount{
		s(2000, 3, 3_000, 20_000), // 3 s, 8 s, 10 s; then 31 s is 21 s later
		s(2000, 1, 31_000, 41_000),
		s(2001, 1, 9_000, 19_000), // 9 s and 20 s are 11 s apart: two sessions
		s(2001, 1, 20_000, 30_000),
		s(2002, 2, 14_000, 34_000), // 14 s and 24 s are exactly 10 s apart: one session
		s(2003, 1, 4_000, 14_000),
	})
}

func TestQ12(t *testing.T) {
	w := func(bidder, count, start int64) BidderCount {
		return BidderCount{Bidder: bidder, Count: count, Start: T0 + start, End: T0 + start + 10_000}
	}
	check(t, "q12", Q12(fixture), []BidderCount{
		w(2000, 2, 0), w(2000, 1, 10_000), w(2000, 1, 30_000),
		w(2001, 1, 0), w(2001, 1, 20_000),
		w(2002, 1, 10_000), w(2002, 1, 20_000),
		w(2003, 1, 0),
	})
}

// TestQueriesOnGeneratedStream runs every reference query over a generated stream at
// a rate slow enough for many windows, checking what must hold between them.
func TestQueriesOnGeneratedStream(t *testing.T) {
	cfg := boundedConfig(100_000)
	cfg.FirstEventRate = 1_000 // 100 s of event time
	events := generate(t, cfg, 0, 1)
	bids := len(bidsOf(events))
	if n := len(Q0(events)); n != bids {
		t.Errorf("q0 has %d rows for %d bids", n, bids)
	}
	sum := func(rows []BidderCount) (n int) {
		for _, r := range rows {
			n += int(r.Count)
		}
		return n
	}
	if n := sum(Q11(events)); n != bids {
		t.Errorf("q11 sessions count %d bids of %d", n, bids)
	}
	if n := sum(Q12(events)); n != bids {
		t.Errorf("q12 windows count %d bids of %d", n, bids)
	}
	for name, rows := range map[string]int{
		"q2": len(Q2(events)), "q3": len(Q3(events)), "q4": len(Q4(events)),
		"q5": len(Q5(events)), "q7": len(Q7(events)), "q8": len(Q8(events)),
	} {
		if rows == 0 {
			t.Errorf("%s has no rows over 100,000 generated events", name)
		}
	}
	// Every q7 row is the highest bid of the window it falls in.
	highest := map[int64]int64{}
	for _, e := range events {
		if e.Kind == KindBid {
			s := windowStart(e.Bid.DateTime, windowSize)
			highest[s] = max(highest[s], e.Bid.Price)
		}
	}
	for _, r := range Q7(events) {
		if s := windowStart(r.DateTime, windowSize); r.Price != highest[s] && r.Price != highest[s-windowSize] {
			t.Errorf("q7 row %+v is not its window's highest bid", r)
		}
	}
}
