package nexmarkbench

import (
	"math"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/nexmark"
)

// The queries follow the SQL of the nexmark/nexmark Flink suite with the semantics that
// package nexmark's reference queries spell out. Each projects the events to what it
// needs in the source subtasks (a FlatMap chained to the source), so that exchanges
// carry small records rather than whole Events.

// Window sizes of the published queries.
const (
	windowSize = 10 * time.Second // q5's size; q7, q8 and q12's tumble
	hopSlide   = 2 * time.Second  // q5's slide
	sessionGap = 10 * time.Second // q11
	windowMs   = int64(windowSize / time.Millisecond)
)

// windowStart is the start of the tumbling 10 s window holding t.
func windowStart(t int64) int64 {
	m := t % windowMs
	if m < 0 {
		m += windowMs
	}
	return t - m
}

func bidRow(b *nexmark.Bid) nexmark.BidRow {
	return nexmark.BidRow{Auction: b.Auction, Bidder: b.Bidder, Price: b.Price, DateTime: b.DateTime, Extra: b.Extra}
}

// Q0 is the pass-through: every bid, projected to auction, bidder, price, dateTime and
// extra. It measures what moving events through the engine costs.
func Q0(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.BidRow] {
	return flow.FlatMap(events, "q0/bids", func(e nexmark.Event, emit func(nexmark.BidRow)) {
		if e.Kind == nexmark.KindBid {
			emit(bidRow(&e.Bid))
		}
	})
}

// Q1 converts every bid's price from dollars to euros, price*89/100 in integer cents.
func Q1(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.BidRow] {
	return flow.FlatMap(events, "q1/euros", func(e nexmark.Event, emit func(nexmark.BidRow)) {
		if e.Kind == nexmark.KindBid {
			r := bidRow(&e.Bid)
			r.Price = r.Price * 89 / 100
			emit(r)
		}
	})
}

// Q2 selects the auction and price of the bids on every 123rd auction.
func Q2(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.Q2Result] {
	return flow.FlatMap(events, "q2/select", func(e nexmark.Event, emit func(nexmark.Q2Result)) {
		if e.Kind == nexmark.KindBid && e.Bid.Auction%123 == 0 {
			emit(nexmark.Q2Result{Auction: e.Bid.Auction, Price: e.Bid.Price})
		}
	})
}

type q3Person struct {
	ID                int64
	Name, City, State string
}

// Q3 is the local item suggestion: an unwindowed join of the people of Oregon, Idaho and
// California with the auctions of category 10 they sell. Like the SQL's regular join it
// keeps both sides for ever and emits each pair when its second half arrives.
func Q3(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.Q3Result] {
	people := flow.FlatMap(events, "q3/people", func(e nexmark.Event, emit func(q3Person)) {
		if p := &e.Person; e.Kind == nexmark.KindPerson && (p.State == "OR" || p.State == "ID" || p.State == "CA") {
			emit(q3Person{ID: p.ID, Name: p.Name, City: p.City, State: p.State})
		}
	})
	// An auction of category 10 is its id and its seller's.
	auctions := flow.FlatMap(events, "q3/auctions", func(e nexmark.Event, emit func([2]int64)) {
		if e.Kind == nexmark.KindAuction && e.Auction.Category == 10 {
			emit([2]int64{e.Auction.ID, e.Auction.Seller})
		}
	})
	joined := flow.Connect(
		flow.KeyBy(people, func(p q3Person) int64 { return p.ID }),
		flow.KeyBy(auctions, func(a [2]int64) int64 { return a[1] }))
	return flow.CoProcess(joined, "q3/join", func(rt *flow.Runtime[int64]) flow.CoProcessor[int64, q3Person, [2]int64, nexmark.Q3Result] {
		seen := flow.NewListState[q3Person](rt, "people")
		sold := flow.NewListState[int64](rt, "auctions")
		return flow.CoProcessor[int64, q3Person, [2]int64, nexmark.Q3Result]{
			Element1: func(ctx *flow.ProcessContext[int64, nexmark.Q3Result], p q3Person) {
				for _, id := range sold.Get() {
					ctx.Emit(nexmark.Q3Result{Name: p.Name, City: p.City, State: p.State, ID: id})
				}
				seen.Add(p)
			},
			Element2: func(ctx *flow.ProcessContext[int64, nexmark.Q3Result], a [2]int64) {
				for _, p := range seen.Get() {
					ctx.Emit(nexmark.Q3Result{Name: p.Name, City: p.City, State: p.State, ID: a[0]})
				}
				sold.Add(a[0])
			},
		}
	})
}

type q4Auction struct{ ID, Category, DateTime, Expires int64 }

type q4Bid struct{ Auction, Price, DateTime int64 }

// q4Winner is an expired auction's category and winning price.
type q4Winner struct{ Category, Price int64 }

// q4Auction state: the auction once it has arrived, its best bid so far, and the bids
// that arrived before it.
type q4State struct {
	auction q4Auction
	known   bool
	best    int64
	hasBest bool
	early   []q4Bid
}

func (st *q4State) offer(b q4Bid) {
	a := &st.auction
	if b.DateTime < a.DateTime || b.DateTime > a.Expires {
		return
	}
	if !st.hasBest || b.Price > st.best {
		st.best, st.hasBest = b.Price, true
	}
}

// Q4 is the average winning price per category. Bids meet their auction keyed by
// auction id; a bid counts if auction.DateTime ≤ bid.DateTime ≤ auction.Expires, and
// the auction's highest such bid wins when the watermark reaches Expires (an event-time
// timer, so every bid that can count has arrived). A second keyed operator keeps each
// category's running average and emits it, truncated, at every winner: the last row of
// a category is its average over every auction that has closed.
//
// A bid can arrive before its auction. It is parked until the auction arrives, or
// dropped when the watermark passes its own time: an auction arriving after that opened
// after the bid, which therefore cannot count.
func Q4(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.Q4Result] {
	auctions := flow.FlatMap(events, "q4/auctions", func(e nexmark.Event, emit func(q4Auction)) {
		if a := &e.Auction; e.Kind == nexmark.KindAuction {
			emit(q4Auction{ID: a.ID, Category: a.Category, DateTime: a.DateTime, Expires: a.Expires})
		}
	})
	bids := flow.FlatMap(events, "q4/bids", func(e nexmark.Event, emit func(q4Bid)) {
		if b := &e.Bid; e.Kind == nexmark.KindBid {
			emit(q4Bid{Auction: b.Auction, Price: b.Price, DateTime: b.DateTime})
		}
	})
	joined := flow.Connect(
		flow.KeyBy(auctions, func(a q4Auction) int64 { return a.ID }),
		flow.KeyBy(bids, func(b q4Bid) int64 { return b.Auction }))
	winners := flow.CoProcess(joined, "q4/winners", func(rt *flow.Runtime[int64]) flow.CoProcessor[int64, q4Auction, q4Bid, q4Winner] {
		state := flow.NewValueState[*q4State](rt, "auction")
		return flow.CoProcessor[int64, q4Auction, q4Bid, q4Winner]{
			Element1: func(ctx *flow.ProcessContext[int64, q4Winner], a q4Auction) {
				st, ok := state.Value()
				if !ok {
					st = &q4State{}
					state.Update(st)
				}
				st.auction, st.known = a, true
				for _, b := range st.early {
					st.offer(b)
				}
				st.early = nil
				ctx.SetEventTimer(a.Expires)
			},
			Element2: func(ctx *flow.ProcessContext[int64, q4Winner], b q4Bid) {
				st, ok := state.Value()
				if !ok {
					st = &q4State{}
					state.Update(st)
				}
				if st.known {
					st.offer(b)
					return
				}
				st.early = append(st.early, b)
				ctx.SetEventTimer(b.DateTime)
			},
			Timer: func(ctx *flow.ProcessContext[int64, q4Winner], t int64, _ flow.TimeDomain) {
				st, ok := state.Value()
				if !ok {
					return
				}
				if st.known {
					if t < st.auction.Expires {
						return
					}
					if st.hasBest {
						ctx.Emit(q4Winner{Category: st.auction.Category, Price: st.best})
					}
					state.Clear()
					return
				}
				st.early = slices.DeleteFunc(st.early, func(b q4Bid) bool { return b.DateTime <= t })
				if len(st.early) == 0 {
					state.Clear()
				}
			},
		}
	})
	type avg struct{ sum, count int64 }
	return flow.Process(flow.KeyBy(winners, func(w q4Winner) int64 { return w.Category }), "q4/average",
		func(rt *flow.Runtime[int64]) flow.KeyedProcessor[int64, q4Winner, nexmark.Q4Result] {
			state := flow.NewValueState[avg](rt, "average")
			return flow.KeyedProcessor[int64, q4Winner, nexmark.Q4Result]{
				Element: func(ctx *flow.ProcessContext[int64, nexmark.Q4Result], w q4Winner) {
					a, _ := state.Value()
					a.sum += w.Price
					a.count++
					state.Update(a)
					ctx.Emit(nexmark.Q4Result{Category: w.Category, Avg: a.sum / a.count})
				},
			}
		})
}

// q5Hottest is one window's highest bid count so far and the auctions that have it.
type q5Hottest struct {
	count    int64
	auctions []int64
}

// Q5 is hot items: bids per auction in sliding windows of 10 s every 2 s, then, per
// window, the auctions whose count is the window's highest, ties included. The second
// stage is keyed by window and emits when the watermark passes the window's end, by
// which time every subtask of the first stage has sent its counts for it.
func Q5(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.Q5Result] {
	auctions := flow.FlatMap(events, "q5/bids", func(e nexmark.Event, emit func(int64)) {
		if e.Kind == nexmark.KindBid {
			emit(e.Bid.Auction)
		}
	})
	counts := flow.WindowAggregate(flow.KeyBy(auctions, func(a int64) int64 { return a }), "q5/count",
		flow.Sliding(windowSize, hopSlide), flow.Count[int64]())
	perWindow := flow.KeyBy(counts, func(r flow.WindowResult[int64, int64]) int64 { return r.Window.Start })
	return flow.Process(perWindow, "q5/hottest", func(rt *flow.Runtime[int64]) flow.KeyedProcessor[int64, flow.WindowResult[int64, int64], nexmark.Q5Result] {
		state := flow.NewValueState[*q5Hottest](rt, "hottest")
		return flow.KeyedProcessor[int64, flow.WindowResult[int64, int64], nexmark.Q5Result]{
			Element: func(ctx *flow.ProcessContext[int64, nexmark.Q5Result], r flow.WindowResult[int64, int64]) {
				h, ok := state.Value()
				if !ok {
					h = &q5Hottest{}
					state.Update(h)
					ctx.SetEventTimer(r.Window.MaxTimestamp())
				}
				switch {
				case r.Value > h.count:
					h.count = r.Value
					h.auctions = append(h.auctions[:0], r.Key)
				case r.Value == h.count:
					h.auctions = append(h.auctions, r.Key)
				}
			},
			Timer: func(ctx *flow.ProcessContext[int64, nexmark.Q5Result], t int64, _ flow.TimeDomain) {
				h, ok := state.Value()
				if !ok {
					return
				}
				start := ctx.Key()
				for _, a := range h.auctions {
					ctx.Emit(nexmark.Q5Result{WindowStart: start, WindowEnd: start + windowMs, Auction: a, Count: h.count})
				}
				state.Clear()
			},
		}
	})
}

// q7Max is the highest price of a set of bids and the bids that have it.
type q7Max struct {
	price int64
	bids  []nexmark.BidRow
}

func (m *q7Max) add(b nexmark.BidRow) {
	switch {
	case b.Price > m.price:
		m.price = b.Price
		m.bids = append(m.bids[:0], b)
	case b.Price == m.price:
		m.bids = append(m.bids, b)
	}
}

// q7Spread is how many partial maxima each window has: the first stage is keyed by
// price modulo it, which spreads bids evenly over the subtasks whatever the skew of
// auctions and bidders.
const q7Spread = 256

// Q7 is the highest bid of each tumbling 10 s window, in two stages so it runs in
// parallel: each subtask of the first keeps, per window, the maximum of the bids whose
// price falls in its share of price%256, and the second, keyed by window, merges them
// when the watermark passes the window's end. As the SQL joins a window's maximum back
// to the bids with window_end - 10 s ≤ DateTime ≤ window_end, a bid at exactly a
// window's end is also a row of that window if its price equals that window's maximum;
// those boundary bids go to the second stage directly.
func Q7(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.BidRow] {
	bids := flow.FlatMap(events, "q7/bids", func(e nexmark.Event, emit func(nexmark.BidRow)) {
		if e.Kind == nexmark.KindBid {
			emit(bidRow(&e.Bid))
		}
	})
	partial := flow.WindowAggregate(flow.KeyBy(bids, func(b nexmark.BidRow) int64 { return b.Price % q7Spread }), "q7/partial-max",
		flow.Tumbling(windowSize), flow.Aggregate[nexmark.BidRow, q7Max, q7Max]{
			Init: func() q7Max { return q7Max{price: math.MinInt64} },
			Add: func(m q7Max, b nexmark.BidRow) q7Max {
				m.add(b)
				return m
			},
			Merge: func(a, b q7Max) q7Max {
				for _, r := range b.bids {
					a.add(r)
				}
				return a
			},
			Result: func(m q7Max) q7Max { return m },
		})
	boundary := flow.FlatMap(bids, "q7/boundary", func(b nexmark.BidRow, emit func(nexmark.BidRow)) {
		if b.DateTime == windowStart(b.DateTime) {
			emit(b)
		}
	})
	joined := flow.Connect(
		flow.KeyBy(partial, func(r flow.WindowResult[int64, q7Max]) int64 { return r.Window.Start }),
		// A boundary bid at t is a candidate of the window [t-10 s, t).
		flow.KeyBy(boundary, func(b nexmark.BidRow) int64 { return b.DateTime - windowMs }))
	type window struct {
		max      q7Max
		boundary []nexmark.BidRow
	}
	return flow.CoProcess(joined, "q7/max", func(rt *flow.Runtime[int64]) flow.CoProcessor[int64, flow.WindowResult[int64, q7Max], nexmark.BidRow, nexmark.BidRow] {
		state := flow.NewValueState[*window](rt, "window")
		get := func(ctx *flow.ProcessContext[int64, nexmark.BidRow]) *window {
			w, ok := state.Value()
			if !ok {
				w = &window{max: q7Max{price: math.MinInt64}}
				state.Update(w)
				// The end itself, so boundary bids (whose time is the end) are in.
				ctx.SetEventTimer(ctx.Key() + windowMs)
			}
			return w
		}
		return flow.CoProcessor[int64, flow.WindowResult[int64, q7Max], nexmark.BidRow, nexmark.BidRow]{
			Element1: func(ctx *flow.ProcessContext[int64, nexmark.BidRow], r flow.WindowResult[int64, q7Max]) {
				w := get(ctx)
				for _, b := range r.Value.bids {
					w.max.add(b)
				}
			},
			Element2: func(ctx *flow.ProcessContext[int64, nexmark.BidRow], b nexmark.BidRow) {
				w := get(ctx)
				w.boundary = append(w.boundary, b)
			},
			Timer: func(ctx *flow.ProcessContext[int64, nexmark.BidRow], _ int64, _ flow.TimeDomain) {
				w, ok := state.Value()
				if !ok {
					return
				}
				for _, b := range w.max.bids {
					ctx.Emit(b)
				}
				for _, b := range w.boundary {
					if len(w.max.bids) > 0 && b.Price == w.max.price {
						ctx.Emit(b)
					}
				}
				state.Clear()
			},
		}
	})
}

type q8Person struct {
	ID   int64
	Name string
}

// q8Window is what one person id has in one window: whether it opened an auction, and
// the names registered under it, each emitted once.
type q8Window struct {
	start   int64
	auction bool
	names   []string
}

// Q8 is new users: the people who registered and opened an auction in the same tumbling
// 10 s window, one row per person and window. Persons and auctions meet keyed by person
// id; a pair is emitted as soon as both halves are in, and a window's state is dropped
// when the watermark passes its end.
func Q8(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.Q8Result] {
	people := flow.FlatMap(events, "q8/people", func(e nexmark.Event, emit func(q8Person)) {
		if e.Kind == nexmark.KindPerson {
			emit(q8Person{ID: e.Person.ID, Name: e.Person.Name})
		}
	})
	sellers := flow.FlatMap(events, "q8/sellers", func(e nexmark.Event, emit func(int64)) {
		if e.Kind == nexmark.KindAuction {
			emit(e.Auction.Seller)
		}
	})
	joined := flow.Connect(
		flow.KeyBy(people, func(p q8Person) int64 { return p.ID }),
		flow.KeyBy(sellers, func(s int64) int64 { return s }))
	return flow.CoProcess(joined, "q8/join", func(rt *flow.Runtime[int64]) flow.CoProcessor[int64, q8Person, int64, nexmark.Q8Result] {
		state := flow.NewValueState[[]q8Window](rt, "windows")
		// window returns the current key's entry for the window of the current record.
		window := func(ctx *flow.ProcessContext[int64, nexmark.Q8Result]) *q8Window {
			start := windowStart(ctx.Timestamp())
			ws, _ := state.Value()
			for i := range ws {
				if ws[i].start == start {
					return &ws[i]
				}
			}
			ws = append(ws, q8Window{start: start})
			state.Update(ws)
			ctx.SetEventTimer(start + windowMs - 1)
			return &ws[len(ws)-1]
		}
		return flow.CoProcessor[int64, q8Person, int64, nexmark.Q8Result]{
			Element1: func(ctx *flow.ProcessContext[int64, nexmark.Q8Result], p q8Person) {
				w := window(ctx)
				if slices.Contains(w.names, p.Name) {
					return
				}
				w.names = append(w.names, p.Name)
				if w.auction {
					ctx.Emit(nexmark.Q8Result{ID: p.ID, Name: p.Name, WindowStart: w.start})
				}
			},
			Element2: func(ctx *flow.ProcessContext[int64, nexmark.Q8Result], seller int64) {
				w := window(ctx)
				if w.auction {
					return
				}
				w.auction = true
				for _, name := range w.names {
					ctx.Emit(nexmark.Q8Result{ID: seller, Name: name, WindowStart: w.start})
				}
			},
			Timer: func(_ *flow.ProcessContext[int64, nexmark.Q8Result], t int64, _ flow.TimeDomain) {
				ws, _ := state.Value()
				ws = slices.DeleteFunc(ws, func(w q8Window) bool { return w.start+windowMs-1 <= t })
				if len(ws) == 0 {
					state.Clear()
				} else {
					state.Update(ws)
				}
			},
		}
	})
}

func bidders(events *flow.Stream[nexmark.Event], name string) *flow.KeyedStream[int64, int64] {
	b := flow.FlatMap(events, name, func(e nexmark.Event, emit func(int64)) {
		if e.Kind == nexmark.KindBid {
			emit(e.Bid.Bidder)
		}
	})
	return flow.KeyBy(b, func(bidder int64) int64 { return bidder })
}

func bidderCount(r flow.WindowResult[int64, int64]) nexmark.BidderCount {
	return nexmark.BidderCount{Bidder: r.Key, Count: r.Value, Start: r.Window.Start, End: r.Window.End}
}

// Q11 is user sessions: each bidder's bids per session window with a 10 s gap.
func Q11(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.BidderCount] {
	sessions := flow.WindowAggregate(bidders(events, "q11/bidders"), "q11/sessions", flow.Session(sessionGap), flow.Count[int64]())
	return flow.Map(sessions, "q11/rows", bidderCount)
}

// Q12 counts each bidder's bids per tumbling 10 s window of processing time: the wall
// clock when the window operator sees the bid.
func Q12(events *flow.Stream[nexmark.Event]) *flow.Stream[nexmark.BidderCount] {
	windows := flow.WindowAggregate(bidders(events, "q12/bidders"), "q12/windows", flow.Tumbling(windowSize).InProcessingTime(), flow.Count[int64]())
	return flow.Map(windows, "q12/rows", bidderCount)
}
