package flow

import (
	"fmt"
	"math"
	"path/filepath"
)

// StateBackend is where a job's keyed state (value, list, map, reducing and aggregating
// states) lives while it runs: HeapBackend, the default, or PebbleBackend. Timers,
// window contents and broadcast state stay on the heap with either.
type StateBackend interface {
	// String names the backend: "heap" or "pebble".
	String() string
}

// HeapBackend keeps keyed state in Go maps, one per key group: the fastest backend, for
// state that fits in memory. A checkpoint writes all of it.
func HeapBackend() StateBackend { return heapBackend{} }

type heapBackend struct{}

func (heapBackend) String() string { return "heap" }

// PebbleBackend keeps keyed state in a Pebble LSM store per keyed subtask, under dir,
// for state larger than memory. Checkpoints are incremental: a checkpoint uploads the
// SST files written since the previous one and refers to the rest, which earlier
// checkpoints uploaded (docs/checkpoints.md). The stores are working copies: they are
// created empty (or from the restored checkpoint) when a run starts and removed when it
// ends.
//
// Keys and values are encoded per entry: strings, byte slices, integers, floats and
// booleans directly, every other type with encoding/gob (state values must have exported
// fields, as for checkpoints of heap state).
func PebbleBackend(dir string) StateBackend { return pebbleBackend{dir: dir} }

type pebbleBackend struct{ dir string }

func (b pebbleBackend) String() string { return "pebble" }

// ParseStateBackend reads a backend name as flags take it: "heap", or "pebble" with its
// stores under dir.
func ParseStateBackend(name, dir string) (StateBackend, error) {
	switch name {
	case "", "heap":
		return HeapBackend(), nil
	case "pebble":
		if dir == "" {
			return nil, fmt.Errorf("the pebble state backend needs a directory")
		}
		return PebbleBackend(filepath.Clean(dir)), nil
	}
	return nil, fmt.Errorf("state backend %q: want heap or pebble", name)
}

// validateBackend checks what the backend needs of the job's options.
func validateBackend(o *JobOptions) error {
	if b, ok := o.StateBackend.(pebbleBackend); ok {
		if b.dir == "" {
			return fmt.Errorf("the pebble state backend needs a directory")
		}
		// Pebble keys start with the key group as two bytes.
		if o.MaxParallelism > math.MaxUint16+1 {
			return fmt.Errorf("the pebble state backend allows a max parallelism of at most %d, not %d", math.MaxUint16+1, o.MaxParallelism)
		}
	}
	return nil
}
