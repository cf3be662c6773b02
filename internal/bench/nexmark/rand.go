package nexmark

import "math/bits"

// rng is SplitMix64: tiny, fast, and good enough for synthetic data. Each event gets
// its own rng seeded from its id, so an event's content does not depend on which
// generator made it or what that generator made before.
type rng struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// newRNG starts the stream of event id under a mixed seed. Multiplying by an odd
// constant, xoring and mixing are all bijections, so distinct ids start at distinct,
// scattered points of the generator's cycle rather than one step apart.
func newRNG(seed uint64, id int64) rng {
	return rng{mix64(seed ^ uint64(id)*golden)}
}

func (r *rng) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// intn is uniform in [0, n) for n > 0, by Lemire's multiply-high; the bias is below
// n/2^64.
func (r *rng) intn(n int64) int64 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int64(hi)
}

// float is uniform in [0, 1).
func (r *rng) float() float64 {
	return float64(r.next()>>11) * 0x1p-53
}
