package nexmark

import "strconv"

// Kind says which member of an Event is set. The values are the event_type column of
// the Nexmark SQL sources, so records keep their meaning across engines.
type Kind uint8

// The event kinds.
const (
	KindPerson  Kind = 0
	KindAuction Kind = 1
	KindBid     Kind = 2
)

// String names the kind as the queries do ("person", "auction", "bid").
func (k Kind) String() string {
	switch k {
	case KindPerson:
		return "person"
	case KindAuction:
		return "auction"
	case KindBid:
		return "bid"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Person is a user registering with the auction house. DateTime is Unix milliseconds,
// like every time in this package.
type Person struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"emailAddress"`
	CreditCard string `json:"creditCard"`
	City       string `json:"city"`
	State      string `json:"state"`
	DateTime   int64  `json:"dateTime"`
	Extra      string `json:"extra"`
}

// Auction is an item put up for sale by the Person whose ID is Seller. It accepts bids
// from DateTime to Expires. Prices are in cents.
type Auction struct {
	ID          int64  `json:"id"`
	ItemName    string `json:"itemName"`
	Description string `json:"description"`
	InitialBid  int64  `json:"initialBid"`
	Reserve     int64  `json:"reserve"`
	DateTime    int64  `json:"dateTime"`
	Expires     int64  `json:"expires"`
	Seller      int64  `json:"seller"`
	Category    int64  `json:"category"`
	Extra       string `json:"extra"`
}

// Bid is an offer of Price cents by Person Bidder on Auction, placed through Channel
// from URL.
type Bid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime int64  `json:"dateTime"`
	Extra    string `json:"extra"`
}

// Event is one record of the Nexmark stream: Kind says which of Person, Auction and Bid
// holds it, and the other two are zero. The members are held by value so a slice of
// Events is one allocation and a generator can refill an Event in place.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}

// Time is the event time of e, the DateTime of its set member.
func (e *Event) Time() int64 {
	switch e.Kind {
	case KindPerson:
		return e.Person.DateTime
	case KindAuction:
		return e.Auction.DateTime
	default:
		return e.Bid.DateTime
	}
}
