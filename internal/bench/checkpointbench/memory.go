package checkpointbench

import (
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// peakSampler follows the memory the Go runtime holds from the OS (mapped and not
// released: an upper bound of the process's resident memory) while a case runs.
// runtime/metrics reads it without stopping the world, so sampling does not pause the
// job being measured.
type peakSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup
	// held is the most memory the runtime held; live the largest heap a GC found live.
	held, live int64
}

const (
	metricTotal    = "/memory/classes/total:bytes"
	metricReleased = "/memory/classes/heap/released:bytes"
	metricLive     = "/gc/heap/live:bytes"
)

func startPeakSampler() *peakSampler {
	p := &peakSampler{stopc: make(chan struct{})}
	samples := []metrics.Sample{{Name: metricTotal}, {Name: metricReleased}, {Name: metricLive}}
	read := func() {
		metrics.Read(samples)
		p.held = max(p.held, int64(samples[0].Value.Uint64()-samples[1].Value.Uint64()))
		p.live = max(p.live, int64(samples[2].Value.Uint64()))
	}
	p.wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			read()
			select {
			case <-tick.C:
			case <-p.stopc:
				read()
				return
			}
		}
	})
	return p
}

// stop ends the sampling and returns the peaks seen.
func (p *peakSampler) stop() (held, live int64) {
	close(p.stopc)
	p.wg.Wait()
	return p.held, p.live
}

// The largest heap a GC finds live in a case, per key and per byte of values: the
// state, plus the grouped copy and the two encoded copies of it a checkpoint holds at
// once. Fitted to runs with 20-, 100- and 1000-byte values on two keyed subtasks, and
// rounded up. (The memory the runtime holds is about twice that with the default GOGC,
// which lets garbage grow to the live heap again before it collects.)
const livePerKey, livePerByte = 250, 6

// memoryPlan is how a run keeps its memory bounded on a shared machine.
type memoryPlan struct {
	// available is MemAvailable when the run started; 0 when unknown.
	available int64
	// limit is the Go soft memory limit set for the run (half of available, or lower
	// if GOMEMLIMIT asked for less); the GC works harder as the heap nears it instead
	// of growing past it. 0 when none was set.
	limit int64
}

// planMemory sets the soft memory limit to half of the available memory for the run
// and returns a function restoring the previous limit. Cases whose live heap alone
// would not fit are refused by check.
func planMemory() (memoryPlan, func()) {
	avail, ok := memAvailable()
	if !ok {
		return memoryPlan{}, func() {}
	}
	prev := debug.SetMemoryLimit(-1)
	limit := min(prev, avail/2)
	debug.SetMemoryLimit(limit)
	return memoryPlan{available: avail, limit: limit}, func() { debug.SetMemoryLimit(prev) }
}

// check refuses a case whose live heap, with a quarter more for garbage, would not fit
// under the limit: the GC would run without pause, and swapping or the OOM killer would
// measure nothing.
func (m memoryPlan) check(stateBytes, keys int64, valueBytes int) error {
	if m.limit == 0 {
		return nil
	}
	live := keys*livePerKey + stateBytes*livePerByte
	if need := live + live/4; need > m.limit {
		return fmt.Errorf("a %s state of %d-byte values needs about %s of memory, more than the %s memory limit (half of the %s available, or GOMEMLIMIT if lower): pick a smaller --state",
			FormatSize(stateBytes), valueBytes, bytesize(need), bytesize(m.limit), bytesize(m.available))
	}
	return nil
}
