package flow

// Map applies f to every record. It runs chained in the subtasks that produce s.
func Map[T, U any](s *Stream[T], name string, f func(T) U) *Stream[U] {
	out := newStream[U](s.job, s.v)
	s.v.chained = append(s.v.chained, name)
	s.addConsumer(func(sub *subtask) collector[T] {
		return &mapOp[T, U]{f: f, out: out.collectorFor(sub)}
	})
	return out
}

type mapOp[T, U any] struct {
	f   func(T) U
	out collector[U]
}

func (m *mapOp[T, U]) record(v T, ts int64) { m.out.record(m.f(v), ts) }
func (m *mapOp[T, U]) watermark(wm int64)   { m.out.watermark(wm) }
func (m *mapOp[T, U]) idle()                { m.out.idle() }
func (m *mapOp[T, U]) end()                 { m.out.end() }
func (m *mapOp[T, U]) barrier(id int64)     { m.out.barrier(id) }

// Filter keeps the records for which keep is true.
func Filter[T any](s *Stream[T], name string, keep func(T) bool) *Stream[T] {
	out := newStream[T](s.job, s.v)
	s.v.chained = append(s.v.chained, name)
	s.addConsumer(func(sub *subtask) collector[T] {
		return &filterOp[T]{keep: keep, out: out.collectorFor(sub)}
	})
	return out
}

type filterOp[T any] struct {
	keep func(T) bool
	out  collector[T]
}

func (f *filterOp[T]) record(v T, ts int64) {
	if f.keep(v) {
		f.out.record(v, ts)
	}
}
func (f *filterOp[T]) watermark(wm int64) { f.out.watermark(wm) }
func (f *filterOp[T]) idle()              { f.out.idle() }
func (f *filterOp[T]) end()               { f.out.end() }
func (f *filterOp[T]) barrier(id int64)   { f.out.barrier(id) }

// FlatMap calls f for every record; f emits any number of results through emit.
func FlatMap[T, U any](s *Stream[T], name string, f func(v T, emit func(U))) *Stream[U] {
	out := newStream[U](s.job, s.v)
	s.v.chained = append(s.v.chained, name)
	s.addConsumer(func(sub *subtask) collector[T] {
		op := &flatMapOp[T, U]{f: f, out: out.collectorFor(sub)}
		op.emit = func(u U) { op.out.record(u, op.ts) }
		return op
	})
	return out
}

type flatMapOp[T, U any] struct {
	f    func(T, func(U))
	out  collector[U]
	emit func(U)
	ts   int64
}

func (m *flatMapOp[T, U]) record(v T, ts int64) {
	m.ts = ts
	m.f(v, m.emit)
}
func (m *flatMapOp[T, U]) watermark(wm int64) { m.out.watermark(wm) }
func (m *flatMapOp[T, U]) idle()              { m.out.idle() }
func (m *flatMapOp[T, U]) end()               { m.out.end() }
func (m *flatMapOp[T, U]) barrier(id int64)   { m.out.barrier(id) }
