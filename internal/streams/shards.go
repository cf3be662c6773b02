package streams

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/cespare/xxhash/v2"
)

// A generation is the set of shards a stream had between two reshards. Shards of a
// generation split the 64-bit hash-key space evenly, so a generation is fully described
// by its size: shard i of n owns the hash keys h with floor(h*n / 2^64) == i. Only the
// newest generation is open for writes; older ones are closed and stay readable until
// their records leave the retention window.
type generation struct {
	// First is the number of the generation's first shard; shard numbers never repeat.
	First int `json:"first"`
	Count int `json:"count"`
	// ClosedAt is the last JetStream sequence of the stream when the generation was
	// closed (0 while open): no record of the generation lies beyond it.
	ClosedAt   uint64    `json:"closedAt,omitempty"`
	ClosedTime time.Time `json:"closedTime,omitzero"`
	Created    time.Time `json:"created"`
}

const metaGenerations = "eddy.generations"

func encodeGenerations(gens []generation) string {
	b, err := json.Marshal(gens)
	if err != nil {
		panic(fmt.Sprintf("marshal generations: %v", err)) // plain structs always marshal
	}
	return string(b)
}

func decodeGenerations(s string) ([]generation, error) {
	var gens []generation
	if err := json.Unmarshal([]byte(s), &gens); err != nil {
		return nil, fmt.Errorf("decode shard generations: %w", err)
	}
	if len(gens) == 0 {
		return nil, fmt.Errorf("decode shard generations: none recorded")
	}
	return gens, nil
}

// ShardID names shard number n.
func ShardID(n int) string { return fmt.Sprintf("shard-%04d", n) }

func parseShardID(id string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(id, "shard-%d", &n); err != nil || n < 0 || ShardID(n) != id {
		return 0, false
	}
	return n, true
}

// HashKey is the point in the 64-bit hash-key space a partition key maps to.
func HashKey(partitionKey string) uint64 { return xxhash.Sum64String(partitionKey) }

// shardIndex is the index of the shard among n even shards that owns hash key h.
func shardIndex(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// hashRange is the inclusive range of hash keys shard i of n owns.
func hashRange(i, n int) (start, end uint64) {
	start = rangeStart(i, n)
	if i == n-1 {
		return start, math.MaxUint64
	}
	return start, rangeStart(i+1, n) - 1
}

// rangeStart is ceil(i * 2^64 / n), the first hash key of shard i of n.
func rangeStart(i, n int) uint64 {
	if i == 0 {
		return 0
	}
	q, r := bits.Div64(uint64(i), 0, uint64(n))
	if r != 0 {
		q++
	}
	return q
}

// ShardInfo describes one shard.
type ShardInfo struct {
	ID           string
	HashKeyStart uint64
	HashKeyEnd   uint64
	// Parents are the shards of the previous generation whose hash keys this shard took
	// over; a reader that wants per-key order finishes them before reading this one.
	Parents []string
	Closed  bool
	// Records, Oldest and Newest describe what the shard holds now.
	Records uint64
	Oldest  time.Time
	Newest  time.Time
}

// shardInfos lists every shard of gens with its hash range and parents.
func shardInfos(gens []generation) []ShardInfo {
	var out []ShardInfo
	for g, gen := range gens {
		for i := 0; i < gen.Count; i++ {
			start, end := hashRange(i, gen.Count)
			si := ShardInfo{ID: ShardID(gen.First + i), HashKeyStart: start, HashKeyEnd: end, Closed: gen.ClosedAt != 0}
			if g > 0 {
				prev := gens[g-1]
				for j := 0; j < prev.Count; j++ {
					ps, pe := hashRange(j, prev.Count)
					if ps <= end && start <= pe {
						si.Parents = append(si.Parents, ShardID(prev.First+j))
					}
				}
			}
			out = append(out, si)
		}
	}
	return out
}

// findShard returns the generation holding shard id, or false.
func findShard(gens []generation, id string) (generation, bool) {
	n, ok := parseShardID(id)
	if !ok {
		return generation{}, false
	}
	for _, g := range gens {
		if n >= g.First && n < g.First+g.Count {
			return g, true
		}
	}
	return generation{}, false
}
