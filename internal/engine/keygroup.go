package engine

// DefaultMaxParallelism is the number of key groups when a job does not choose: the
// most subtasks a keyed operator can ever be rescaled to.
const DefaultMaxParallelism = 128

// KeyGroup maps a key's hash to one of maxParallelism key groups. The hash is mixed first
// (the 64-bit finaliser of MurmurHash3) so keys whose hashes differ only in high bits
// still spread over the groups.
func KeyGroup(hash uint64, maxParallelism int) int {
	h := hash
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h % uint64(maxParallelism))
}

// SubtaskOf is the subtask that owns a key group when an operator runs as parallelism
// subtasks. Each subtask owns a contiguous range of key groups (Flink's assignment), so a
// rescale moves whole ranges.
func SubtaskOf(keyGroup, maxParallelism, parallelism int) int {
	return keyGroup * parallelism / maxParallelism
}

// KeyGroupRange is the inclusive range of key groups subtask owns.
func KeyGroupRange(subtask, maxParallelism, parallelism int) (first, last int) {
	first = (subtask*maxParallelism + parallelism - 1) / parallelism
	last = ((subtask+1)*maxParallelism - 1) / parallelism
	return first, last
}
