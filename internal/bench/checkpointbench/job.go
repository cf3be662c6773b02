package checkpointbench

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// jobName is the name every job of a case runs under: the restoring run finds the
// checkpoints of the checkpointing run by it.
const jobName = "checkpoint-bench"

// kind says what a record does to its key's state.
type kind uint8

const (
	// fill writes the key's first value.
	fill kind = iota
	// update replaces the key's value with a new one.
	update
	// event reads the key's value: the record stream whose throughput is measured.
	event
)

// record is what the source emits; the keyed operator makes the values, so the
// exchange carries 16 bytes per record whatever the value size.
type record struct {
	Key  int64
	Kind kind
}

// plan is what one job does.
type plan struct {
	keys       int64
	valueBytes int
	// fill makes the source write every key once before anything else; a restoring run
	// has its state already.
	fill        bool
	parallelism int
	backend     flow.StateBackend
	// stateDir holds the Pebble backend's working copies; empty for heap state.
	stateDir    string
	checkpoints *flow.CheckpointOptions
	// trigger, if positive, is how often the harness takes checkpoints.
	trigger time.Duration
	control *control
}

// control lets the harness steer the source while it runs.
type control struct {
	// updates turns the source's steady updates of 1% of the keys per second on and off.
	updates atomic.Bool
	// burst asks the source for that many updates of distinct keys now.
	burst atomic.Int64
}

func newControl() *control {
	c := &control{}
	c.updates.Store(true)
	return c
}

// counters are what the keyed subtasks have done, read by the harness while the job
// runs. Each subtask has its own, padded to a cache line so they do not share one.
type counters struct {
	subtasks []subtaskCounters
	// first is when a keyed subtask first processed a record (Unix ns), 0 before.
	first atomic.Int64
}

// counter names one count of a subtask.
type counter int

const (
	// countFilled counts fill records.
	countFilled counter = iota
	// countEvents counts events.
	countEvents
	// countMissing counts events whose key had no value: after a fill or a restore, a bug.
	countMissing
	// countUpdated counts update records.
	countUpdated
	numCounters
)

type subtaskCounters struct {
	n [numCounters]atomic.Int64
	_ [64 - numCounters*8]byte
}

// total sums counter k over the subtasks.
func (c *counters) total(k counter) int64 {
	var n int64
	for i := range c.subtasks {
		n += c.subtasks[i].n[k].Load()
	}
	return n
}

// newJob builds the job of p: a source of fills, updates and events keyed by key into
// one keyed operator holding a ValueState[[]byte] per key.
func newJob(p plan) (*flow.Job, *counters) {
	c := &counters{subtasks: make([]subtaskCounters, p.parallelism)}
	job := flow.NewJob(jobName, flow.JobOptions{Parallelism: p.parallelism, Checkpoints: p.checkpoints, StateBackend: p.backend})
	if p.control == nil {
		p.control = newControl()
	}
	src := flow.FromSource(job, "records", 1, &source{keys: p.keys, fill: p.fill, control: p.control})
	keyed := flow.KeyBy(src, func(r record) int64 { return r.Key })
	pattern := randomBytes(p.valueBytes + 4096)
	flow.Process(keyed, "state", func(rt *flow.Runtime[int64]) flow.KeyedProcessor[int64, record, struct{}] {
		value := flow.NewValueState[[]byte](rt, "value")
		sc := &c.subtasks[rt.Subtask]
		var version byte
		return flow.KeyedProcessor[int64, record, struct{}]{Element: func(_ *flow.ProcessContext[int64, struct{}], r record) {
			if c.first.Load() == 0 {
				c.first.CompareAndSwap(0, time.Now().UnixNano())
			}
			switch r.Kind {
			case fill, update:
				// A new slice each time, as a user's Update hands over a value it no
				// longer touches; random bytes, so no layer below can compress them.
				off := int(uint64(r.Key) % 4096)
				v := make([]byte, p.valueBytes)
				copy(v, pattern[off:])
				version++
				v[0] = version
				value.Update(v)
				if r.Kind == fill {
					sc.n[countFilled].Add(1)
				} else {
					sc.n[countUpdated].Add(1)
				}
			case event:
				if _, ok := value.Value(); !ok {
					sc.n[countMissing].Add(1)
				}
				sc.n[countEvents].Add(1)
			}
		}}
	})
	return job, c
}

// source emits, from one subtask, a fill of every key (if asked), then until the job is
// stopped a stream of events as fast as the job takes them, with updates of 1% of the
// keys per second mixed in. Keys of events and updates are scattered over the whole
// key space, so state access misses the CPU cache as it would with real keys.
type source struct {
	keys    int64
	fill    bool
	control *control
}

// emitBetweenChecks is how many events the source emits between looks at the clock and
// the context.
const emitBetweenChecks = 1024

func (s *source) Run(ctx context.Context, _, _ int, out flow.SourceOutput[record]) error {
	if s.fill {
		for k := int64(0); k < s.keys; k++ {
			if k%emitBetweenChecks == 0 && ctx.Err() != nil {
				return nil
			}
			out.Emit(record{Key: k}, flow.NoTimestamp)
		}
	}
	keys := uint64(s.keys)
	updatesPerSec := float64(s.keys) / 100
	// active is how long the steady updates have been on: they are due at
	// updatesPerSec over that time, not over the time they were off.
	var active time.Duration
	last := time.Now()
	var events, updates, bursts uint64
	// A multiplicative walk by a prime larger than any key count: consecutive updates
	// touch distinct keys until every key has had one.
	emitUpdate := func() {
		out.Emit(record{Key: int64(updates * 2654435761 % keys), Kind: update}, flow.NoTimestamp)
		updates++
	}
	for ctx.Err() == nil {
		for range emitBetweenChecks {
			out.Emit(record{Key: int64(scatter(events) % keys), Kind: event}, flow.NoTimestamp)
			events++
		}
		for n := s.control.burst.Swap(0); n > 0; n-- {
			emitUpdate()
			bursts++
		}
		now := time.Now()
		on := s.control.updates.Load()
		if on {
			active += now.Sub(last)
		}
		last = now
		if !on {
			continue
		}
		due := uint64(active.Seconds()*updatesPerSec) + bursts
		for updates < due {
			emitUpdate()
		}
	}
	return nil
}

// scatter is splitmix64's finaliser: a cheap bijection that spreads consecutive
// integers over the whole range.
func scatter(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
