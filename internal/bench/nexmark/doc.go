// Package nexmark generates the Nexmark benchmark's event stream and holds brute-force
// reference answers to its queries, so eddy's stream engine can be loaded and checked
// with the workload other Flink-model engines publish numbers for.
//
// Nexmark models an online auction house. Three kinds of event arrive on one stream:
// a Person registers, a Person opens an Auction for an item, and People place Bids on
// open Auctions. The queries (q0 to q22 in the Flink suite) exercise projection,
// filtering, joins, aggregation and the window types: tumbling, sliding, session.
//
// # The generator model
//
// Generator follows the published generator (Apache Beam's Nexmark, later adopted by the
// nexmark/nexmark Flink suite): the event number n, counted from 0 over the whole
// stream, fixes everything about an event.
//   - Its time: BaseTime plus n inter-event delays of 1/FirstEventRate seconds.
//   - Its kind: the event id FirstEventID+n modulo 1+3+46 picks Person, Auction or
//     Bid, so the mix is exactly 1:3:46 over every 50 consecutive ids.
//   - Its keys: a Person's id is the number of Persons before it, an Auction's
//     likewise, both from 1000. A Bid names one of the last NumInFlightAuctions
//     auctions (or one of the next few, not opened yet) and one of the last
//     NumActivePeople people, an Auction likewise its seller; with probability
//     1-1/HotAuctionRatio (HotBiddersRatio, HotSellersRatio) it names the "hot"
//     auction (bidder, seller) of the current block of 100 instead, which is what
//     gives the stream its key skew.
//   - Its payload: names from short fixed lists (so the queries' filters on state and
//     category match in small runs), random strings, log-uniform prices from $1 to
//     $1,000,000, auctions that last as long as it takes to open NumInFlightAuctions
//     more on average, and an Extra field padding each kind to its average byte size.
//
// With OutOfOrderGroupSize above 1, event numbers are permuted within consecutive
// groups of that size, so times go backwards inside a group and never across groups.
//
// AppendJSON and DecodeJSON give events their form in an eddy stream, and Q0 … Q12
// answer the queries by brute force, as the expected output for tests of the engine.
//
// # Where this package differs
//
//   - Randomness is a pure function of (Config.Seed, event id), in the manner of Beam's
//     per-event seeding; the Flink suite draws from an unseeded stream, so its runs
//     differ. Our bytes are not those of either Java generator (the random source,
//     float rounding and string draws are our own), but every distribution is.
//   - Splitting is round-robin over one timeline: subtask i of p emits event numbers
//     i, i+p, i+2p, ... with their global times. The Flink suite instead gives each
//     subtask a contiguous range of ids on its own timeline, so its parallel output is
//     not the serial output. Ours is: the union of p splits is exactly the one-split
//     stream, and every split's times advance together, so watermarks of parallel
//     sources stay close.
//   - Event times are computed in integers (n*1000/rate, floored), not via a float
//     delay in microseconds; the two agree except where float rounding crosses a
//     millisecond.
//   - Each of the 10,000 bid channels has a fixed URL, a function of the channel
//     number, where the published generator draws them once per process from an
//     unseeded source.
//   - A Bid's bidder is offset by the first person id once; a version of the Flink
//     generator adds it twice, shifting every bidder 1000 people ahead.
//   - Rate shapes (square, sine) and wall-clock pacing are not modelled: the generator
//     produces event times, and pacing, if any, is the caller's.
package nexmark
