package tsbs

import "math/rand/v2"

// Stream domains keep the random streams of a device and of a split's IoT injection
// apart even where their numbers coincide.
const (
	streamDevice    = 0x6465766963650000 // "device"
	streamInjection = 0x696e6a6563740000 // "inject"
)

// newRand is the random stream number n of domain under seed. Each device has its own
// stream, so what a device reports depends on the seed and its id only, not on the
// other devices or on how the devices are split between generators.
func newRand(seed uint64, domain, n uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed), mix64(domain^n)))
}

// mix64 is SplitMix64's finalizer: it scatters nearby seeds, so stream n and n+1 start
// far apart.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// clamp is x limited to [lo, hi], as TSBS's clamped random walks step and then clamp.
func clamp(x, lo, hi float64) float64 {
	return min(max(x, lo), hi)
}
