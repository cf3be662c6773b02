package flow

import (
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
}

type discard[T any] struct{}

func (discard[T]) record(T, int64) {}
func (discard[T]) watermark(int64) {}
func (discard[T]) idle()           {}
func (discard[T]) end()            {}

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
func (f fanout[T]) end() {
	for _, c := range f {
		c.end()
	}
}

// subtask is one parallel instance of a vertex while the job runs.
type subtask struct {
	run         *run
	index       int
	parallelism int
	// processing-time callbacks of the operators chained in this subtask
	onTime []func(now int64)
	// sides are the receivers of the vertex's side outputs, by tag name.
	sides map[string]sideCollector
	m     *subtaskMetrics
	// stateSizes report the entries of the state the chained operators keep.
	stateSizes []func() int
	polls      int
}

// publish refreshes the subtask's state-size metric now and then; only the subtask's
// goroutine may look at its state.
func (sub *subtask) publish() {
	sub.polls++
	if sub.polls%64 != 0 || len(sub.stateSizes) == 0 {
		return
	}
	n := 0
	for _, f := range sub.stateSizes {
		n += f()
	}
	sub.m.stateEntries.Store(int64(n))
}

func newSubtask(r *run, v *vertex, i int) *subtask {
	sub := &subtask{run: r, index: i, parallelism: v.parallelism, m: v.metrics[i]}
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

func (sub *subtask) sideEnd() {
	for _, c := range sub.sides {
		c.end()
	}
}

func (sub *subtask) clock() Clock { return sub.run.job.opts.Clock }

// NoTimestamp is the time of a record without an event time.
const NoTimestamp = engine.MinWatermark
