package nexmark

import (
	"math"
	"strings"
	"testing"
)

func mustGenerator(t testing.TB, cfg Config, subtask, parallelism int) *Generator {
	t.Helper()
	g, err := NewGenerator(cfg, subtask, parallelism)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// generate returns the whole stream of one split.
func generate(t testing.TB, cfg Config, subtask, parallelism int) []Event {
	t.Helper()
	g := mustGenerator(t, cfg, subtask, parallelism)
	var out []Event
	var e Event
	for g.Next(&e) {
		out = append(out, e)
	}
	return out
}

func boundedConfig(n int64) Config {
	cfg := DefaultConfig()
	cfg.MaxEvents = n
	return cfg
}

func TestGeneratorIsDeterministic(t *testing.T) {
	cfg := boundedConfig(50_000)
	a, b := generate(t, cfg, 0, 1), generate(t, cfg, 0, 1)
	if len(a) != 50_000 || len(b) != 50_000 {
		t.Fatalf("generated %d and %d events, want 50000", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d differs between runs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	cfg.Seed = 7
	c := generate(t, cfg, 0, 1)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seed 7 repeats %d of %d events of seed 0", same, len(a))
	}
}

func TestSplitsTogetherAreTheSingleStream(t *testing.T) {
	for _, group := range []int64{1, 7} {
		cfg := boundedConfig(20_003) // not a multiple of any parallelism below
		cfg.OutOfOrderGroupSize = group
		single := generate(t, cfg, 0, 1)
		for _, p := range []int{2, 3, 8} {
			seen := 0
			for i := range p {
				split := generate(t, cfg, i, p)
				for k, e := range split {
					n := i + k*p // round-robin: the k-th event of split i is event number i+k·p
					if e != single[n] {
						t.Fatalf("group %d: split %d/%d event %d is not event number %d:\n%+v\n%+v", group, i, p, k, n, e, single[n])
					}
				}
				seen += len(split)
			}
			if seen != len(single) {
				t.Errorf("group %d: %d splits made %d events, the single stream %d", group, p, seen, len(single))
			}
		}
	}
}

func TestSetOffsetResumes(t *testing.T) {
	cfg := boundedConfig(10_000)
	want := generate(t, cfg, 1, 3)
	g := mustGenerator(t, cfg, 1, 3)
	g.SetOffset(1234)
	var e Event
	for k := 1234; g.Next(&e); k++ {
		if e != want[k] {
			t.Fatalf("after SetOffset(1234), event %d differs", k)
		}
		if g.Offset() != int64(k+1) {
			t.Fatalf("Offset() = %d after event %d", g.Offset(), k)
		}
	}
}

func TestProportions(t *testing.T) {
	cfg := boundedConfig(1_000_000)
	g := mustGenerator(t, cfg, 0, 1)
	var counts [3]int
	var e Event
	for g.Next(&e) {
		counts[e.Kind]++
	}
	want := [3]float64{1.0 / 50, 3.0 / 50, 46.0 / 50}
	for k, c := range counts {
		if got := float64(c) / 1e6; math.Abs(got-want[k]) > 0.001 {
			t.Errorf("%v: %.4f of events, want %.4f", Kind(k), got, want[k])
		}
	}
}

// TestHotKeys checks the skew the hot ratios put in: most bids go to the first auction
// of the current block of 100, most bids come from the second person of the block,
// most auctions are sold by its first, and turning the ratios to 1 removes all that.
func TestHotKeys(t *testing.T) {
	shares := func(cfg Config) (auction, bidder, seller float64) {
		var bids, hotAuction, hotBidder, auctions, hotSeller int
		for _, e := range generate(t, cfg, 0, 1) {
			switch e.Kind {
			case KindBid:
				bids++
				if (e.Bid.Auction-firstAuctionID)%hotBlock == 0 {
					hotAuction++
				}
				if (e.Bid.Bidder-firstPersonID)%hotBlock == 1 {
					hotBidder++
				}
			case KindAuction:
				auctions++
				if (e.Auction.Seller-firstPersonID)%hotBlock == 0 {
					hotSeller++
				}
			}
		}
		return float64(hotAuction) / float64(bids), float64(hotBidder) / float64(bids), float64(hotSeller) / float64(auctions)
	}
	cfg := boundedConfig(200_000)
	a, b, s := shares(cfg)
	// Expected: 1/2, 3/4 and 3/4 from the ratios, plus the hot key's share of the
	// random picks (about 1%).
	if a < 0.48 || a > 0.53 || b < 0.73 || b > 0.78 || s < 0.73 || s > 0.78 {
		t.Errorf("hot shares: auctions %.3f (want ~0.50), bidders %.3f (~0.75), sellers %.3f (~0.75)", a, b, s)
	}
	cfg.HotAuctionRatio, cfg.HotBiddersRatio, cfg.HotSellersRatio = 1, 1, 1
	a, b, s = shares(cfg)
	if a > 0.03 || b > 0.03 || s > 0.03 {
		t.Errorf("with hot ratios 1, hot shares: auctions %.3f, bidders %.3f, sellers %.3f; want ~0.01", a, b, s)
	}
}

func TestEventTimes(t *testing.T) {
	cfg := boundedConfig(100_000)
	cfg.FirstEventRate = 3_000 // a delay of 1/3 ms, so flooring matters
	events := generate(t, cfg, 0, 1)
	for n, e := range events {
		// Event n happens n/rate seconds after BaseTime, floored to the millisecond.
		if want := cfg.BaseTime + int64(n)*1000/cfg.FirstEventRate; e.Time() != want {
			t.Fatalf("event %d at %d, want %d", n, e.Time(), want)
		}
	}

	cfg.OutOfOrderGroupSize = 100
	g := mustGenerator(t, cfg, 0, 1)
	var e Event
	var prev int64
	backwards := 0
	for g.Next(&e) {
		if e.Time() < prev {
			backwards++
		}
		prev = e.Time()
	}
	if backwards == 0 {
		t.Errorf("with out-of-order groups of 100, event times never went backwards")
	}
}

func TestWatermarkBoundsLaterEvents(t *testing.T) {
	cfg := boundedConfig(20_000)
	cfg.FirstEventRate = 1_000
	cfg.OutOfOrderGroupSize = 50
	g := mustGenerator(t, cfg, 1, 2)
	var e Event
	var marks []int64
	var times []int64
	for {
		marks = append(marks, g.Watermark())
		if !g.Next(&e) {
			break
		}
		times = append(times, e.Time())
	}
	if last := marks[len(marks)-1]; last != math.MaxInt64 {
		t.Errorf("watermark of an exhausted generator is %d, want MaxInt64", last)
	}
	// Every event is at or after each watermark emitted before it.
	minLater := int64(math.MaxInt64)
	for i := len(times) - 1; i >= 0; i-- {
		minLater = min(minLater, times[i])
		if marks[i] > minLater {
			t.Fatalf("watermark %d before event %d, but a later event is at %d", marks[i], i, minLater)
		}
	}
}

// TestEventShapes checks the published model's invariants on each kind.
func TestEventShapes(t *testing.T) {
	cfg := boundedConfig(200_000)
	var persons, belowMedian, prices int
	var size [3]int
	var count [3]int
	for _, e := range generate(t, cfg, 0, 1) {
		count[e.Kind]++
		switch e.Kind {
		case KindPerson:
			p := e.Person
			if p.ID != firstPersonID+int64(persons) {
				t.Fatalf("person %d has id %d; ids must count up from %d", persons, p.ID, firstPersonID)
			}
			persons++
			if !strings.Contains(p.Email, "@") || len(p.CreditCard) != 19 || p.Name == "" {
				t.Fatalf("malformed person %+v", p)
			}
			size[e.Kind] += 8 + len(p.Name) + len(p.Email) + len(p.CreditCard) + len(p.City) + len(p.State) + len(p.Extra)
		case KindAuction:
			a := e.Auction
			if a.Expires <= a.DateTime || a.Reserve < a.InitialBid || a.Category < 10 || a.Category > 14 {
				t.Fatalf("malformed auction %+v", a)
			}
			if a.ItemName == "" || strings.TrimSpace(a.ItemName) != a.ItemName {
				t.Fatalf("item name %q is empty or untrimmed", a.ItemName)
			}
			size[e.Kind] += 8 + len(a.ItemName) + len(a.Description) + 5*8 + len(a.Extra)
		case KindBid:
			b := e.Bid
			if b.Price < 100 || b.Price > 100_000_000 {
				t.Fatalf("bid price %d outside $1 to $1,000,000", b.Price)
			}
			if b.Channel == "" || !strings.HasPrefix(b.URL, "https://www.nexmark.com/") {
				t.Fatalf("bid channel %q url %q", b.Channel, b.URL)
			}
			prices++
			if b.Price < 100_000 { // $1000, the median of 10^U(0,6) dollars
				belowMedian++
			}
			size[e.Kind] += 4*8 + len(b.Extra)
		}
	}
	if f := float64(belowMedian) / float64(prices); math.Abs(f-0.5) > 0.01 {
		t.Errorf("%.3f of bid prices are below $1000, want half (log-uniform $1 to $1M)", f)
	}
	for k, want := range []int{cfg.AvgPersonByteSize, cfg.AvgAuctionByteSize, cfg.AvgBidByteSize} {
		if avg := float64(size[k]) / float64(count[k]); math.Abs(avg-float64(want)) > 0.03*float64(want) {
			t.Errorf("%v: average size %.1f bytes, want about %d", Kind(k), avg, want)
		}
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	g := mustGenerator(t, DefaultConfig(), 0, 1)
	var e Event
	// The arena allocates a block per 64 KiB of strings, a few hundred events;
	// AllocsPerRun's integer average hides that but not one allocation per event.
	if n := testing.AllocsPerRun(10_000, func() { g.Next(&e) }); n != 0 {
		t.Errorf("Next allocates %.0f times per event", n)
	}
}

func TestConfigErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FirstEventRate = 0
	cfg.HotAuctionRatio = -1
	_, err := NewGenerator(cfg, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "FirstEventRate") || !strings.Contains(err.Error(), "HotAuctionRatio") {
		t.Errorf("invalid config: error %v, want one naming FirstEventRate and HotAuctionRatio", err)
	}
	if _, err := NewGenerator(DefaultConfig(), 3, 3); err == nil {
		t.Errorf("subtask 3 of 3 accepted")
	}
	if _, err := NewGenerator(Config{}, 0, 1); err == nil {
		t.Errorf("zero Config accepted")
	}
}
