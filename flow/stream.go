package flow

import (
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// Stream is a flow of records of type T produced by one operator.
type Stream[T any] struct {
	job *Job
	v   *vertex
	// consumers build, per subtask of v, what receives the stream's records.
	consumers []func(sub *subtask) collector[T]
}

func newStream[T any](j *Job, v *vertex) *Stream[T] {
	return &Stream[T]{job: j, v: v}
}

// Job is the job the stream belongs to.
func (s *Stream[T]) Job() *Job { return s.job }

// Parallelism is how many subtasks produce the stream.
func (s *Stream[T]) Parallelism() int { return s.v.parallelism }

func (s *Stream[T]) addConsumer(c func(sub *subtask) collector[T]) {
	s.consumers = append(s.consumers, c)
}

// collectorFor builds the receivers of the stream in subtask sub.
func (s *Stream[T]) collectorFor(sub *subtask) collector[T] {
	switch len(s.consumers) {
	case 0:
		return discard[T]{}
	case 1:
		return s.consumers[0](sub)
	}
	fan := make(fanout[T], len(s.consumers))
	for i, c := range s.consumers {
		fan[i] = c(sub)
	}
	return fan
}

// collector receives an operator's output, or an operator's input: records, watermarks,
// idleness and the end of the input, in order, from one goroutine.
type collector[T any] interface {
	record(v T, ts int64)
	watermark(wm int64)
	idle()
	end()
	// barrier passes checkpoint id's barrier on; sinks pre-commit on it.
	barrier(id int64)
}

type discard[T any] struct{}

func (discard[T]) record(T, int64) {}
func (discard[T]) watermark(int64) {}
func (discard[T]) idle()           {}
func (discard[T]) end()            {}
func (discard[T]) barrier(int64)   {}

type fanout[T any] []collector[T]

func (f fanout[T]) record(v T, ts int64) {
	for _, c := range f {
		c.record(v, ts)
	}
}
func (f fanout[T]) watermark(wm int64) {
	for _, c := range f {
		c.watermark(wm)
	}
}
func (f fanout[T]) idle() {
	for _, c := range f {
		c.idle()
	}
}
func (f fanout[T]) barrier(id int64) {
	for _, c := range f {
		c.barrier(id)
	}
}
func (f fanout[T]) end() {
	for _, c := range f {
		c.end()
	}
}

// subtask is one parallel instance of a vertex while the job runs.
type subtask struct {
	run         *run
	vertex      *vertex
	index       int
	parallelism int
	// processing-time callbacks of the operators chained in this subtask
	onTime []func(now int64)
	// sides are the receivers of the vertex's side outputs, by tag name.
	sides map[string]sideCollector
	m     *subtaskMetrics
	// stateSizes report the entries of the state the chained operators keep; stores are
	// their Pebble stores.
	stateSizes      []func() int
	stores          []*pebbleStore
	storesPublished time.Time
	polls           int
	// snapshotters are the stateful parts checkpoints save and restore.
	snapshotters []namedSnapshotter
	// barriers brings checkpoint triggers to a source subtask; completed tells any
	// subtask which checkpoint completed, so its sinks can commit.
	barriers   chan int64
	completed  chan int64
	committers []func(id int64)
	// flushers send the partly filled batches of the subtask's writers.
	flushers  []func()
	lastFlush time.Time
}

// flushIfDue sends partly filled batches once the buffer timeout has passed.
func (sub *subtask) flushIfDue(now time.Time) {
	if now.Sub(sub.lastFlush) < sub.run.job.opts.BufferTimeout {
		return
	}
	sub.lastFlush = now
	for _, f := range sub.flushers {
		f()
	}
}

// commit tells the subtask's sinks that checkpoint id is complete.
func (sub *subtask) commit(id int64) {
	for _, c := range sub.committers {
		c(id)
	}
}

func (sub *subtask) addSnapshotter(name string, s snapshotter) {
	sub.snapshotters = append(sub.snapshotters, namedSnapshotter{name: name, s: s})
}

// publish refreshes the subtask's state-size metric now and then; only the subtask's
// goroutine may look at its state.
func (sub *subtask) publish() {
	sub.polls++
	if sub.polls%64 == 0 {
		sub.publishState()
	}
	if len(sub.stores) > 0 {
		// A subtask reading a large Pebble state may take a while for 64 messages.
		if now := time.Now(); now.Sub(sub.storesPublished) >= time.Second {
			sub.storesPublished = now
			sub.publishStores()
		}
	}
}

// publishState counts the state entries of the subtask's operators.
func (sub *subtask) publishState() {
	if len(sub.stateSizes) == 0 {
		return
	}
	n := 0
	for _, f := range sub.stateSizes {
		n += f()
	}
	sub.m.stateEntries.Store(int64(n))
}

// publishStores reads the size and compaction debt of the subtask's Pebble stores.
func (sub *subtask) publishStores() {
	var bytes, debt, running int64
	for _, st := range sub.stores {
		m := st.db.Metrics()
		bytes += int64(m.DiskSpaceUsage())
		debt += int64(m.Compact.EstimatedDebt)
		running += m.Compact.NumInProgress
	}
	sub.m.stateBytes.Store(bytes)
	sub.m.stateDebt.Store(debt)
	sub.m.stateCompactions.Store(running)
}

func newSubtask(r *run, v *vertex, i int) *subtask {
	sub := &subtask{run: r, vertex: v, index: i, parallelism: v.parallelism, m: v.metrics[i]}
	if r.cp != nil {
		sub.completed = r.cp.subtasks[v.index+i]
		if v.source {
			sub.barriers = r.cp.sources[v.sourceIndex+i]
		}
	}
	if len(v.sides) > 0 {
		sub.sides = map[string]sideCollector{}
		for name, b := range v.sides {
			sub.sides[name] = b.buildSide(sub)
		}
	}
	return sub
}

// forward passes a watermark, idleness or the end to the side outputs too.
func (sub *subtask) sideWatermark(wm int64) {
	for _, c := range sub.sides {
		c.watermark(wm)
	}
}

func (sub *subtask) sideBarrier(id int64) {
	for _, c := range sub.sides {
		c.barrier(id)
	}
}

func (sub *subtask) sideEnd() {
	for _, c := range sub.sides {
		c.end()
	}
}

func (sub *subtask) clock() Clock { return sub.run.job.opts.Clock }

// NoTimestamp is the time of a record without an event time.
const NoTimestamp = engine.MinWatermark
