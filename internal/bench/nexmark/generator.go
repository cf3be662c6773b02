package nexmark

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"sync"
	"unsafe"
)

// Generator produces one split of a Nexmark stream. It is deterministic: the same
// Config, subtask and parallelism give the same events, and the parallelism splits of
// one Config together give exactly the events of a single split, each once.
//
// A Generator is not safe for concurrent use; give each source subtask its own.
type Generator struct {
	cfg         Config
	total       int64 // PersonProportion + AuctionProportion + BidProportion
	auctionLead int64 // event numbers it takes to open NumInFlightAuctions auctions
	subtask     int64
	parallelism int64
	offset      int64 // events this split has emitted
	seed        uint64
	tables      *tables
	strs        arena
}

// NewGenerator returns split subtask (0 ≤ subtask < parallelism) of the stream cfg
// describes. Splits are round-robin: this one emits event numbers subtask,
// subtask+parallelism, subtask+2·parallelism, … below cfg.MaxEvents, each with the
// time, kind and content it has in the unsplit stream.
func NewGenerator(cfg Config, subtask, parallelism int) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if parallelism < 1 || subtask < 0 || subtask >= parallelism {
		return nil, fmt.Errorf("nexmark generator: subtask %d of parallelism %d is out of range", subtask, parallelism)
	}
	total := cfg.PersonProportion + cfg.AuctionProportion + cfg.BidProportion
	return &Generator{
		cfg:         cfg,
		total:       total,
		auctionLead: cfg.NumInFlightAuctions * total / cfg.AuctionProportion,
		subtask:     int64(subtask),
		parallelism: int64(parallelism),
		seed:        mix64(cfg.Seed),
		tables:      sharedTables(),
	}, nil
}

// Offset is how many events this generator has emitted: the position a checkpoint
// records.
func (g *Generator) Offset() int64 { return g.offset }

// SetOffset makes the generator continue as if it had already emitted offset events,
// as a source restoring a checkpoint does. It costs nothing: no event depends on
// another.
func (g *Generator) SetOffset(offset int64) { g.offset = offset }

// nextNumber is the event number of this split's next event.
func (g *Generator) nextNumber() int64 { return g.subtask + g.offset*g.parallelism }

// Watermark is a time no later event of this generator is before: what a source
// emits as its watermark after the events so far. Once the generator is exhausted it
// is math.MaxInt64, the end of event time.
func (g *Generator) Watermark() int64 {
	n := g.nextNumber()
	if g.cfg.MaxEvents > 0 && n >= g.cfg.MaxEvents {
		return math.MaxInt64
	}
	size := g.cfg.OutOfOrderGroupSize
	return g.timeOf(n / size * size)
}

// Next fills e with the next event and reports whether there was one. It does not
// allocate per event: strings come from a block of memory the generator carves up and
// never rewrites, so they stay valid after later calls; a new block is allocated
// every 64 KiB of strings.
func (g *Generator) Next(e *Event) bool {
	n := g.nextNumber()
	if g.cfg.MaxEvents > 0 && n >= g.cfg.MaxEvents {
		return false
	}
	g.offset++
	num := g.shuffle(n)
	id := g.cfg.FirstEventID + num
	t := g.timeOf(num)
	r := newRNG(g.seed, id)
	*e = Event{}
	switch rem := id % g.total; {
	case rem < g.cfg.PersonProportion:
		e.Kind = KindPerson
		g.person(&e.Person, &r, id, t)
	case rem < g.cfg.PersonProportion+g.cfg.AuctionProportion:
		e.Kind = KindAuction
		g.auction(&e.Auction, &r, id, num, t)
	default:
		e.Kind = KindBid
		g.bid(&e.Bid, &r, id, t)
	}
	return true
}

// shuffle permutes event numbers within groups of OutOfOrderGroupSize, by the
// published multiplier 953 (a prime, so a permutation unless the size is a multiple).
func (g *Generator) shuffle(n int64) int64 {
	size := g.cfg.OutOfOrderGroupSize
	if size == 1 {
		return n
	}
	return n/size*size + n*953%size
}

// timeOf is the event time of event number n: BaseTime plus n inter-event delays of
// 1/FirstEventRate seconds, floored to the millisecond. Splitting the division keeps
// n·1000 from overflowing.
func (g *Generator) timeOf(n int64) int64 {
	rate := g.cfg.FirstEventRate
	return g.cfg.BaseTime + n/rate*1000 + n%rate*1000/rate
}

// lastPerson is the base-0 id of the newest person at event id: the person being made
// if id is a person event.
func (g *Generator) lastPerson(id int64) int64 {
	epoch, offset := id/g.total, id%g.total
	offset = min(offset, g.cfg.PersonProportion-1)
	return epoch*g.cfg.PersonProportion + offset
}

// lastAuction is the base-0 id of the newest auction at event id: the auction being
// made if id is an auction event. Before the first auction it is -1.
func (g *Generator) lastAuction(id int64) int64 {
	epoch, offset := id/g.total, id%g.total
	switch {
	case offset < g.cfg.PersonProportion:
		epoch--
		offset = g.cfg.AuctionProportion - 1
	case offset >= g.cfg.PersonProportion+g.cfg.AuctionProportion:
		offset = g.cfg.AuctionProportion - 1
	default:
		offset -= g.cfg.PersonProportion
	}
	return epoch*g.cfg.AuctionProportion + offset
}

// hotBlock is the size of the id blocks whose first member is hot.
const hotBlock = 100

// leadIDs is how many not-yet-created people or auctions a random pick may name, so a
// bid can arrive before its auction, as in a real system with skewed clocks.
const leadIDs = 10

// randomPerson picks one of the last NumActivePeople people, or a few ahead.
func (g *Generator) randomPerson(r *rng, id int64) int64 {
	people := g.lastPerson(id) + 1
	active := min(people, g.cfg.NumActivePeople)
	return people - active + r.intn(active+leadIDs)
}

func (g *Generator) person(p *Person, r *rng, id, t int64) {
	p.ID = g.lastPerson(id) + firstPersonID
	p.Name = g.tables.names[r.intn(int64(len(g.tables.names)))]
	p.Email = g.email(r)
	p.CreditCard = g.creditCard(r)
	p.City = usCities[r.intn(int64(len(usCities)))]
	p.State = usStates[r.intn(int64(len(usStates)))]
	p.DateTime = t
	size := 8 + len(p.Name) + len(p.Email) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = g.extra(r, size, g.cfg.AvgPersonByteSize)
}

func (g *Generator) auction(a *Auction, r *rng, id, num, t int64) {
	a.ID = g.lastAuction(id) + firstAuctionID
	if r.intn(g.cfg.HotSellersRatio) > 0 {
		a.Seller = g.lastPerson(id) / hotBlock * hotBlock
	} else {
		a.Seller = g.randomPerson(r, id)
	}
	a.Seller += firstPersonID
	a.Category = firstCategoryID + r.intn(numCategories)
	a.InitialBid = price(r)
	a.DateTime = t
	// Auctions last on average as long as it takes to open NumInFlightAuctions more,
	// so about that many are open at any time.
	horizon := g.timeOf(num+g.auctionLead) - t
	a.Expires = t + 1 + r.intn(max(2*horizon, 1))
	a.ItemName = g.randString(r, 20)
	a.Description = g.randString(r, 100)
	a.Reserve = a.InitialBid + price(r)
	size := 8 + len(a.ItemName) + len(a.Description) + 5*8
	a.Extra = g.extra(r, size, g.cfg.AvgAuctionByteSize)
}

func (g *Generator) bid(b *Bid, r *rng, id, t int64) {
	last := g.lastAuction(id)
	if r.intn(g.cfg.HotAuctionRatio) > 0 {
		b.Auction = last / hotBlock * hotBlock
	} else {
		first := max(last-g.cfg.NumInFlightAuctions, 0)
		b.Auction = first + r.intn(last-first+1+leadIDs)
	}
	b.Auction += firstAuctionID
	if r.intn(g.cfg.HotBiddersRatio) > 0 {
		// The second person of the block, so hot bidders are not hot sellers.
		b.Bidder = g.lastPerson(id)/hotBlock*hotBlock + 1
	} else {
		b.Bidder = g.randomPerson(r, id)
	}
	b.Bidder += firstPersonID
	b.Price = price(r)
	var c *channel
	if r.intn(2) > 0 {
		c = &g.tables.hot[r.intn(int64(len(g.tables.hot)))]
	} else {
		c = &g.tables.channels[r.intn(int64(len(g.tables.channels)))]
	}
	b.Channel, b.URL = c.name, c.url
	b.DateTime = t
	b.Extra = g.extra(r, 4*8, g.cfg.AvgBidByteSize)
}

// price is log-uniform between 100 and 100,000,000 cents: 10^(6u) dollars, rounded
// half up as Java's Math.round does. The published form is Math.pow(10, 6u);
// exp(6u·ln 10) is the same number to a few ulps and several times faster.
func price(r *rng) int64 {
	return int64(math.Exp(r.float()*(6*math.Ln10))*100 + 0.5)
}

// randString is 3 to maxLen-1 random lower-case letters, each replaced by a space
// with probability 1/13, with the spaces at either end trimmed.
func (g *Generator) randString(r *rng, maxLen int) string {
	b := g.strs.grab(maxLen)
	return g.strs.commit(trimmed(b, randChars(b, r, maxLen, ' ')))
}

// randChars writes randString's characters, untrimmed, into b and returns how many.
// One 64-bit draw yields six characters: each step's high word of x·338 is uniform in
// [0, 338), below 26 (one chance in 13) for the special character, else a letter.
func randChars(b []byte, r *rng, maxLen int, special byte) int {
	n := 3 + int(r.intn(int64(maxLen-3)))
	var x uint64
	for i := range n {
		if i%6 == 0 {
			x = r.next()
		}
		var v uint64
		v, x = bits.Mul64(x, 13*26)
		if v < 26 {
			b[i] = special
		} else {
			b[i] = 'a' + byte(v%26)
		}
	}
	return n
}

// email is a random local part, "@", a random domain and ".com".
func (g *Generator) email(r *rng) string {
	b := g.strs.grab(6 + 1 + 4 + 4)
	n := trimmed(b, randChars(b, r, 7, ' '))
	b[n] = '@'
	n++
	n += trimmed(b[n:], randChars(b[n:], r, 5, ' '))
	n += copy(b[n:], ".com")
	return g.strs.commit(n)
}

// trimmed moves b[:n] without its leading and trailing spaces to the front of b and
// returns the new length.
func trimmed(b []byte, n int) int {
	i, j := 0, n
	for i < j && b[i] == ' ' {
		i++
	}
	for j > i && b[j-1] == ' ' {
		j--
	}
	return copy(b, b[i:j])
}

// creditCard is four groups of four digits.
func (g *Generator) creditCard(r *rng) string {
	b := g.strs.grab(19)
	for i := range 4 {
		v := r.intn(10000)
		o := i * 5
		b[o] = byte('0' + v/1000)
		b[o+1] = byte('0' + v/100%10)
		b[o+2] = byte('0' + v/10%10)
		b[o+3] = byte('0' + v%10)
		if i < 3 {
			b[o+4] = ' '
		}
	}
	return g.strs.commit(19)
}

// extra is random letters bringing an event of size bytes to avg on average: its
// length is uniform within ±20% of avg-size.
func (g *Generator) extra(r *rng, size, avg int) string {
	if size > avg {
		return ""
	}
	want := avg - size
	delta := int(math.Round(float64(want) * 0.2))
	n := want - delta
	if delta > 0 {
		n += int(r.intn(int64(2 * delta)))
	}
	b := g.strs.grab(n)
	// Four letters per 64-bit draw, one per 16 bits scaled to [0, 26): the four do not
	// depend on each other, so the CPU computes them at once.
	i := 0
	for ; i+4 <= n; i += 4 {
		x := r.next()
		q := b[i : i+4 : i+4]
		q[0] = 'a' + byte((x&0xffff)*26>>16)
		q[1] = 'a' + byte((x>>16&0xffff)*26>>16)
		q[2] = 'a' + byte((x>>32&0xffff)*26>>16)
		q[3] = 'a' + byte((x>>48)*26>>16)
	}
	for x := r.next(); i < n; i++ {
		b[i] = 'a' + byte((x&0xffff)*26>>16)
		x >>= 16
	}
	return g.strs.commit(n)
}

// arena hands out strings from large blocks so generating an event costs no
// allocation. Committed bytes are never written again, which is what makes handing
// them out as strings sound; a string keeps its whole block alive.
type arena struct{ buf []byte }

const arenaBlock = 64 << 10

// grab returns n writable bytes at the arena's end.
func (a *arena) grab(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(arenaBlock, n))
	}
	return a.buf[len(a.buf) : len(a.buf)+n]
}

// commit turns the first n bytes of the last grab into a string.
func (a *arena) commit(n int) string {
	if n == 0 {
		return ""
	}
	i := len(a.buf)
	a.buf = a.buf[:i+n]
	return unsafe.String(&a.buf[i], n)
}

// The lists are short so the queries' filters find matches in small runs.
var (
	usStates   = [...]string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = [...]string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames = [...]string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = [...]string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	hotNames   = [...]string{"Google", "Facebook", "Baidu", "Apple"}
)

// numChannels is how many cold channels bids come through.
const numChannels = 10_000

type channel struct{ name, url string }

// tables holds the strings that are the same for every generator: full names, and the
// bid channels with their URLs. The published generator draws the URLs from an
// unseeded random source once per process; ours are a fixed function of the channel.
type tables struct {
	names    [len(firstNames) * len(lastNames)]string
	hot      [len(hotNames)]channel
	channels [numChannels]channel
}

var sharedTables = sync.OnceValue(func() *tables {
	t := new(tables)
	for i, f := range firstNames {
		for j, l := range lastNames {
			t.names[i*len(lastNames)+j] = f + " " + l
		}
	}
	for i, name := range hotNames {
		r := newRNG(mix64(0x40), int64(i))
		t.hot[i] = channel{name, channelURL(&r)}
	}
	for c := range t.channels {
		r := newRNG(mix64(0xc4), int64(c))
		url := channelURL(&r)
		if r.intn(10) > 0 {
			// The published id is |reverse of c's 32 bits|, a spread-out number.
			url += "&channel_id=" + strconv.FormatInt(abs(int64(int32(bits.Reverse32(uint32(c))))), 10)
		}
		t.channels[c] = channel{"channel-" + strconv.Itoa(c), url}
	}
	return t
})

// channelURL is an item URL with three random path segments of three or four
// characters, one in 13 of them an underscore.
func channelURL(r *rng) string {
	var b [4]byte
	url := "https://www.nexmark.com/"
	for range 3 {
		url += string(b[:randChars(b[:], r, 5, '_')]) + "/"
	}
	return url + "item.htm?query=1"
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
