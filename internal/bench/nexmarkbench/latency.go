package nexmarkbench

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/histogram"
)

// maxSlots bounds each source subtask's progress table to 8 MiB. At the default event
// rate a slot is one millisecond of event time.
const maxSlots = 1 << 20

// progress records when each source subtask first reached each point of event time, so
// a result's latency can be measured from the moment the input held an event at or
// after the result's time. Slot i covers event times from base + i·granule.
type progress struct {
	epoch    time.Time
	base     int64
	granule  int64
	slots    int64
	subtasks []*marks // by source subtask index
}

// newProgress covers event times from base to base+span milliseconds for parallelism
// source subtasks.
func newProgress(base, span int64, parallelism int) *progress {
	granule := max(1, (span+maxSlots-1)/maxSlots)
	p := &progress{epoch: time.Now(), base: base, granule: granule, slots: span/granule + 2}
	for range parallelism {
		p.subtasks = append(p.subtasks, &marks{p: p, slots: make([]atomic.Int64, p.slots), nextAt: base})
	}
	return p
}

// now is the monotonic clock in ns since the run's epoch, plus one so that zero means
// "not yet".
func (p *progress) now() int64 { return int64(time.Since(p.epoch)) + 1 }

// slotOf is the first slot starting at or after event time t.
func (p *progress) slotOf(t int64) int64 {
	if t <= p.base {
		return 0
	}
	return (t - p.base + p.granule - 1) / p.granule
}

// own is when source subtask i first emitted an event at or after t, or ended without
// one; 0 while neither has happened.
func (p *progress) own(i int, t int64) int64 {
	m := p.subtasks[i]
	if s := p.slotOf(t); s < p.slots {
		if v := m.slots[s].Load(); v != 0 {
			return v
		}
	}
	return m.ended.Load()
}

// first is when any source subtask first emitted an event at or after t; if none ever
// does, when the last one ended. It is 0 while neither is known.
func (p *progress) first(t int64) int64 {
	s := p.slotOf(t)
	var first, ended int64
	for _, m := range p.subtasks {
		if s < p.slots {
			if v := m.slots[s].Load(); v != 0 && (first == 0 || v < first) {
				first = v
			}
		}
		e := m.ended.Load()
		if e == 0 {
			ended = -1
		} else if ended >= 0 {
			ended = max(ended, e)
		}
	}
	if first == 0 && ended > 0 {
		return ended
	}
	return first
}

// last is when every source subtask had emitted an event at or after t or ended: from
// then on no source holds the watermark before t back. It is 0 while not known.
func (p *progress) last(t int64) int64 {
	var last int64
	for i := range p.subtasks {
		v := p.own(i, t)
		if v == 0 {
			return 0
		}
		last = max(last, v)
	}
	return last
}

// events is how many events the source subtasks emitted; call it after the run.
func (p *progress) events() int64 {
	var n int64
	for _, m := range p.subtasks {
		n += m.events
	}
	return n
}

// marks is one source subtask's progress; only that subtask's goroutine writes it.
type marks struct {
	p      *progress
	slots  []atomic.Int64
	next   int64 // the first slot not reached yet
	nextAt int64 // the event time where slot next starts
	events int64
	ended  atomic.Int64
}

// observe notes that the subtask is emitting an event of time t.
func (m *marks) observe(t int64) {
	m.events++
	if t < m.nextAt {
		return
	}
	m.advance(t)
}

func (m *marks) advance(t int64) {
	p := m.p
	now := p.now()
	last := min((t-p.base)/p.granule, p.slots-1)
	for ; m.next <= last; m.next++ {
		m.slots[m.next].Store(now)
	}
	m.nextAt = p.base + m.next*p.granule
	if m.next == p.slots {
		m.nextAt = math.MaxInt64
	}
}

// end notes that the subtask has emitted its last event.
func (m *marks) end() { m.ended.Store(m.p.now()) }

// timing says where a query's results come from, and so what their latency is
// measured from.
type timing uint8

const (
	// perEvent results are made from one event in the source subtask that read it:
	// measured from when that subtask first emitted an event at or after the result's
	// time. Measuring from the first of all subtasks would charge them the drift
	// between source subtasks, which nothing couples when no exchange follows.
	perEvent timing = iota
	// joined results are emitted by a keyed operator when the event completing them
	// arrives; they carry that event's time.
	joined
	// onWatermark results are emitted when the watermark passes their time (the end of
	// a window, a timer). Besides the end-to-end latency they get one measured from when
	// the last source subtask reached their time plus the out-of-orderness bound, the
	// moment the watermark could first pass it: the engine's own delay.
	onWatermark
	// processingTime results carry the last millisecond of a processing-time window, in
	// wall-clock Unix milliseconds, and are measured from the window's end.
	processingTime
)

// meter is the sinks' side of a run: results counted, and sampled latencies.
type meter struct {
	prog        *progress
	timing      timing
	sampleEvery int64
	// boundMs is the watermarks' out-of-orderness in milliseconds.
	boundMs int64

	mu      sync.Mutex
	results int64
	lat     histogram.Histogram
	pastWM  histogram.Histogram
	unknown int64
}

// measure sinks s into m, one writer per subtask producing it.
func measure[T any](s *flow.Stream[T], m *meter) {
	flow.SinkTo(s, "measure", func(subtask, _ int) (flow.Writer[T], error) {
		return &meterWriter[T]{m: m, subtask: subtask, every: m.sampleEvery}, nil
	})
}

// meterWriter measures one subtask's results; they are merged into the meter when it
// closes, so the timed path shares nothing.
type meterWriter[T any] struct {
	m       *meter
	subtask int
	every   int64
	n       int64
	unknown int64
	lat     histogram.Histogram
	pastWM  histogram.Histogram
}

func (w *meterWriter[T]) Write(_ T, ts int64) error {
	w.n++
	if w.n%w.every != 0 {
		return nil
	}
	p := w.m.prog
	var ref int64
	switch w.m.timing {
	case processingTime:
		end := (ts + 1) * int64(time.Millisecond)
		w.lat.Record(time.Duration(max(time.Now().UnixNano()-end, 0)))
		return nil
	case perEvent:
		ref = p.own(w.subtask, ts)
	case joined:
		ref = p.first(ts)
	case onWatermark:
		ref = p.first(ts)
		if past := p.last(ts + w.m.boundMs + 1); past != 0 {
			w.pastWM.Record(time.Duration(max(p.now()-past, 0)))
		}
	}
	if ref == 0 {
		w.unknown++
		return nil
	}
	w.lat.Record(time.Duration(p.now() - ref))
	return nil
}

func (w *meterWriter[T]) Flush() error { return nil }

func (w *meterWriter[T]) Close() error {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.results += w.n
	w.m.unknown += w.unknown
	w.m.lat.Merge(&w.lat)
	w.m.pastWM.Merge(&w.pastWM)
	return nil
}
