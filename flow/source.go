package flow

import (
	"context"
	"encoding/gob"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// WatermarkStrategy says how a source derives watermarks from the event times it sees.
type WatermarkStrategy struct {
	kind  wmKind
	bound int64 // milliseconds of out-of-orderness
	gen   func(maxTime int64) int64
}

type wmKind uint8

const (
	wmNone wmKind = iota
	wmBounded
	wmCustom
)

// BoundedOutOfOrderness expects records up to d later than the latest event time seen:
// the watermark trails the maximum event time by d.
func BoundedOutOfOrderness(d time.Duration) WatermarkStrategy {
	return WatermarkStrategy{kind: wmBounded, bound: d.Milliseconds()}
}

// Monotonous expects event times never to decrease.
func Monotonous() WatermarkStrategy { return WatermarkStrategy{kind: wmBounded} }

// CustomWatermarks derives the watermark from the maximum event time seen.
func CustomWatermarks(f func(maxTime int64) int64) WatermarkStrategy {
	return WatermarkStrategy{kind: wmCustom, gen: f}
}

// NoWatermarks emits no watermark until the source ends; event-time operators then fire
// only at the end of a bounded input.
func NoWatermarks() WatermarkStrategy { return WatermarkStrategy{} }

// watermarkFor is the watermark after seeing maxTime, following Flink: with a bound b
// the watermark is maxTime - b - 1, the latest time no record can still have.
func (w WatermarkStrategy) watermarkFor(maxTime int64) int64 {
	if maxTime == engine.MinWatermark {
		return engine.MinWatermark
	}
	switch w.kind {
	case wmBounded:
		return maxTime - w.bound - 1
	case wmCustom:
		return w.gen(maxTime)
	}
	return engine.MinWatermark
}

// SourceOptions configure a source.
type SourceOptions[T any] struct {
	// Timestamp extracts a record's event time in Unix milliseconds; nil leaves records
	// without event time.
	Timestamp func(T) int64
	// Watermarks derives watermarks from event times (default: none until the end).
	Watermarks WatermarkStrategy
}

// FromSlice is a bounded source of the given records, in order, from one subtask.
func FromSlice[T any](j *Job, name string, items []T, opts SourceOptions[T]) *Stream[T] {
	return FromGenerator(j, name, 1, func(int, int) func(*T) bool {
		i := 0
		return func(v *T) bool {
			if i == len(items) {
				return false
			}
			*v = items[i]
			i++
			return true
		}
	}, opts)
}

// FromGenerator is a source of parallelism subtasks; open returns, for one subtask, a
// function that fills the next record and reports false when the subtask's share is
// exhausted.
func FromGenerator[T any](j *Job, name string, parallelism int, open func(subtask, parallelism int) func(*T) bool, opts SourceOptions[T]) *Stream[T] {
	if parallelism <= 0 {
		parallelism = 1
	}
	v := j.addVertex(name, parallelism)
	v.source = true
	s := newStream[T](j, v)
	v.task = func(r *run, i int) func() error {
		sub := newSubtask(r, v, i)
		out := s.collectorFor(sub)
		next := open(i, parallelism)
		pos := &sourcePosition{}
		sub.addSnapshotter("source", pos)
		mustRestore(sub)
		return func() error {
			// Skip what the restored checkpoint says was already read.
			var v T
			for n := int64(0); n < pos.Offset; n++ {
				if !next(&v) {
					break
				}
			}
			return runSource(sub, next, opts, out, pos)
		}
	}
	return s
}

// sourcePosition is how many records a generator source's subtask has emitted.
type sourcePosition struct{ Offset int64 }

func (p *sourcePosition) snapshotState() func(*stateWriter) error {
	off := p.Offset
	return func(w *stateWriter) error { return w.put("offset", -1, off) }
}
func (p *sourcePosition) restoreState(r *stateReader) error {
	return r.each("offset", func(_ int, dec *gob.Decoder) error { return dec.Decode(&p.Offset) })
}

// mustRestore loads the subtask's state from the checkpoint the run restores.
func mustRestore(sub *subtask) {
	if err := sub.restore(); err != nil {
		panic(failure{err})
	}
}

// runSource drives one source subtask: records in batches, a watermark after each batch
// when it advanced, and the maximum watermark and end when the input is exhausted.
func runSource[T any](sub *subtask, next func(*T) bool, opts SourceOptions[T], out collector[T], pos *sourcePosition) error {
	batch := sub.run.job.opts.BatchSize
	maxTime, emitted := engine.MinWatermark, engine.MinWatermark
	var v T
	for n := 1; ; n++ {
		if !next(&v) {
			sub.m.recordsIn.Add(int64((n - 1) % batch))
			break
		}
		t := NoTimestamp
		if opts.Timestamp != nil {
			t = opts.Timestamp(v)
			maxTime = max(maxTime, t)
		}
		out.record(v, t)
		pos.Offset++
		// A slow source must not hold a checkpoint back for a whole batch: look for a
		// barrier after every record (the length of a channel costs next to nothing).
		if len(sub.barriers) > 0 {
			id := <-sub.barriers
			out.barrier(id)
			sub.checkpoint(id)
		}
		if n%64 == 0 {
			sub.flushIfDue(time.Now())
		}
		if n%batch == 0 {
			sub.m.recordsIn.Add(int64(batch))
			select {
			case <-sub.run.done:
				return nil
			case id := <-sub.completed:
				sub.commit(id)
			default:
			}
			if wm := opts.Watermarks.watermarkFor(maxTime); wm > emitted {
				emitted = wm
				sub.m.watermark.Store(wm)
				out.watermark(wm)
			}
		}
	}
	out.watermark(engine.MaxWatermark)
	out.end()
	return nil
}

// Source is a connector that produces records, such as an eddy stream or a Kafka topic.
// Run is called once per subtask in its own goroutine; it emits the subtask's share of the
// input and returns when that share is exhausted (a bounded source) or ctx ends.
type Source[T any] interface {
	Run(ctx context.Context, subtask, parallelism int, out SourceOutput[T]) error
}

// SourceOutput is where a Source's subtask emits. Emit may block: that is backpressure.
type SourceOutput[T any] interface {
	// Emit sends a record with its event time (NoTimestamp for none).
	Emit(v T, ts int64)
	// Watermark promises no later record has a time ≤ wm.
	Watermark(wm int64)
	// Idle says the subtask has nothing to emit for now and must not hold event time back.
	Idle()
	// Poll lets checkpoint barriers and commit notifications through while the source
	// has nothing to emit; a source that waits for input calls it at least every few
	// hundred milliseconds.
	Poll()
}

// FromSource adds a connector's source with parallelism subtasks. When Run returns nil
// the subtask's input is exhausted: it sends the final watermark and ends.
func FromSource[T any](j *Job, name string, parallelism int, src Source[T]) *Stream[T] {
	if parallelism <= 0 {
		parallelism = j.opts.Parallelism
	}
	v := j.addVertex(name, parallelism)
	v.source = true
	s := newStream[T](j, v)
	v.task = func(r *run, i int) func() error {
		sub := newSubtask(r, v, i)
		out := &sourceOutput[T]{out: s.collectorFor(sub), wm: engine.MinWatermark, m: sub.m, sub: sub}
		if cs, ok := src.(CheckpointedSource); ok {
			sub.addSnapshotter("source", checkpointedSource{cs, i})
		}
		mustRestore(sub)
		return func() error {
			err := src.Run(r.ctx, i, parallelism, out)
			out.m.recordsIn.Add(out.unpublished)
			out.unpublished = 0
			if err != nil {
				return err
			}
			if r.ctx.Err() != nil {
				return nil
			}
			out.out.watermark(engine.MaxWatermark)
			out.out.end()
			return nil
		}
	}
	return s
}

type sourceOutput[T any] struct {
	out         collector[T]
	wm          int64
	m           *subtaskMetrics
	sub         *subtask
	unpublished int64
}

// Emit checks for a checkpoint barrier before it sends v, so a connector's snapshot,
// taken here, covers exactly the records emitted before this one.
func (o *sourceOutput[T]) Emit(v T, ts int64) {
	// Count locally and publish now and then: an atomic add per record shows in profiles.
	if o.unpublished++; o.unpublished == 64 {
		o.m.recordsIn.Add(64)
		o.unpublished = 0
	}
	if len(o.sub.barriers) > 0 || len(o.sub.completed) > 0 {
		o.Poll()
	}
	o.out.record(v, ts)
}

func (o *sourceOutput[T]) Poll() {
	o.m.recordsIn.Add(o.unpublished)
	o.unpublished = 0
	o.sub.flushIfDue(time.Now())
	select {
	case id := <-o.sub.barriers:
		o.out.barrier(id)
		o.sub.checkpoint(id)
	default:
	}
	select {
	case id := <-o.sub.completed:
		o.sub.commit(id)
	default:
	}
}

// CheckpointedSource is a Source whose position can be saved and restored. Snapshot is
// called from inside Emit and must describe the position after the records emitted so
// far (not the one being emitted). Restore is called before Run with the snapshot of
// every subtask of the run that wrote the checkpoint, so that a source restored at
// another parallelism can take over the positions of the splits it now owns.
type CheckpointedSource interface {
	Snapshot(subtask int) ([]byte, error)
	Restore(subtask int, data []byte) error
}

type checkpointedSource struct {
	s       CheckpointedSource
	subtask int
}

func (c checkpointedSource) snapshotState() func(*stateWriter) error {
	data, err := c.s.Snapshot(c.subtask)
	return func(w *stateWriter) error {
		if err != nil {
			return err
		}
		return w.put("position", unionGroup, data)
	}
}

func (c checkpointedSource) restoreState(r *stateReader) error {
	return r.each("position", func(_ int, dec *gob.Decoder) error {
		var data []byte
		if err := dec.Decode(&data); err != nil {
			return err
		}
		return c.s.Restore(c.subtask, data)
	})
}

func (o *sourceOutput[T]) Watermark(wm int64) {
	if wm > o.wm {
		o.wm = wm
		o.m.watermark.Store(wm)
		o.out.watermark(wm)
	}
}

func (o *sourceOutput[T]) Idle() { o.out.idle() }

// Split is the event-time progress of one split of a connector's source (a stream shard,
// a topic partition). Embed it in a split's reader and derive the subtask's watermark
// with SplitsWatermark, so an idle or finished split does not hold event time back.
type Split struct {
	// MaxTime is the largest event time the split has emitted; NoTimestamp before any.
	MaxTime int64
	// LastData is when the split last had records; Done says it was read to its end.
	LastData time.Time
	Done     bool
}

// NewSplit is a split that has emitted nothing yet.
func NewSplit() Split { return Split{MaxTime: NoTimestamp, LastData: time.Now()} }

// Progress gives SplitsWatermark the split of the reader that embeds it.
func (s *Split) Progress() *Split { return s }

// Observe notes a record emitted with event time ts.
func (s *Split) Observe(ts int64) {
	if ts != NoTimestamp && ts > s.MaxTime {
		s.MaxTime = ts
	}
}

// SplitsWatermark is the minimum over the splits not done and not idle (no records for
// longer than idleness, when it is positive) of each split's largest event time minus the
// out-of-orderness bound and 1 ms. It reports false while a live split has no event time
// yet: that split could still emit anything.
func SplitsWatermark[R interface{ Progress() *Split }](readers []R, bound, idleness time.Duration) (int64, bool) {
	wm, any := int64(0), false
	for _, r := range readers {
		s := r.Progress()
		if s.Done || idleness > 0 && time.Since(s.LastData) > idleness {
			continue
		}
		if s.MaxTime == NoTimestamp {
			return 0, false
		}
		if w := s.MaxTime - bound.Milliseconds() - 1; !any || w < wm {
			wm, any = w, true
		}
	}
	return wm, any
}
