package flow

import (
	"encoding/gob"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Timestamped is a record with its event time.
type Timestamped[T any] struct {
	Value T
	Time  int64
}

// Collected gathers a stream's records in memory, for tests and small jobs.
type Collected[T any] struct {
	mu    sync.Mutex
	items []Timestamped[T]
}

// Collect gathers s's records; read them after Run returns.
func Collect[T any](s *Stream[T]) *Collected[T] {
	c := &Collected[T]{}
	s.v.chained = append(s.v.chained, "collect")
	s.addConsumer(func(sub *subtask) collector[T] { return counted(sub, (*collectSink[T])(c)) })
	return c
}

// Values returns the records gathered, in arrival order per producing subtask.
func (c *Collected[T]) Values() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]T, len(c.items))
	for i, it := range c.items {
		out[i] = it.Value
	}
	return out
}

// Records returns the records gathered with their event times.
func (c *Collected[T]) Records() []Timestamped[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Timestamped[T](nil), c.items...)
}

type collectSink[T any] Collected[T]

func (c *collectSink[T]) record(v T, ts int64) {
	c.mu.Lock()
	c.items = append(c.items, Timestamped[T]{v, ts})
	c.mu.Unlock()
}
func (c *collectSink[T]) watermark(int64) {}
func (c *collectSink[T]) idle()           {}
func (c *collectSink[T]) end()            {}
func (c *collectSink[T]) barrier(int64)   {}

// Sink calls write for every record of s in the subtask that produces it; an error fails
// the job.
func Sink[T any](s *Stream[T], name string, write func(v T, ts int64) error) {
	s.v.chained = append(s.v.chained, name)
	s.addConsumer(func(sub *subtask) collector[T] { return counted(sub, &funcSink[T]{name: name, write: write}) })
}

// counted counts the records a sink receives as the subtask's output.
func counted[T any](sub *subtask, c collector[T]) collector[T] {
	return &countingSink[T]{collector: c, m: sub.m}
}

type countingSink[T any] struct {
	collector[T]
	m *subtaskMetrics
}

func (c *countingSink[T]) record(v T, ts int64) {
	c.m.recordsOut.Add(1)
	c.collector.record(v, ts)
}

type funcSink[T any] struct {
	name  string
	write func(T, int64) error
}

func (f *funcSink[T]) record(v T, ts int64) {
	if err := f.write(v, ts); err != nil {
		panic(failure{fmt.Errorf("sink %s: %w", f.name, err)})
	}
}
func (f *funcSink[T]) watermark(int64) {}
func (f *funcSink[T]) idle()           {}
func (f *funcSink[T]) end()            {}
func (f *funcSink[T]) barrier(int64)   {}

// Print writes every record of s to w, one per line, formatted with %v.
func Print[T any](s *Stream[T], name string, w io.Writer) {
	var mu sync.Mutex
	Sink(s, name, func(v T, _ int64) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintln(w, v)
		return err
	})
}

// failure carries an operator's error out of a chain of calls to the subtask's loop.
type failure struct{ err error }

// Union merges streams of one type into one stream, fed to parallelism subtasks (the
// job's default when 0) round-robin.
func Union[T any](name string, parallelism int, streams ...*Stream[T]) *Stream[T] {
	j := streams[0].job
	if parallelism <= 0 {
		parallelism = j.opts.Parallelism
	}
	v := j.addVertex(name, parallelism)
	out := newStream[T](j, v)
	e := &edge[T]{}
	for _, s := range streams {
		j.addEdge(s.v, v, "rebalance")
		offset := e.senders
		e.senders += s.v.parallelism
		s.addConsumer(func(sub *subtask) collector[T] { return newWriter(e, offset+sub.index, sub) })
	}
	v.prepare = func(capacity int) { e.allocate(parallelism, capacity) }
	v.task = func(r *run, i int) func() error {
		sub := newSubtask(r, v, i)
		in := newInput(sub, e.chans[i], e.senders, out.collectorFor(sub))
		mustRestore(sub)
		return func() error { return runInput(sub, in) }
	}
	return out
}

// Writer is a connector's sink. Write receives each record; Flush makes what was written
// durable and is called on every watermark and at the end of input; Close runs once when
// the subtask finishes. An error from any of them fails the job.
type Writer[T any] interface {
	Write(v T, ts int64) error
	Flush() error
	Close() error
}

// SinkTo writes s with one Writer per producing subtask, made by open.
func SinkTo[T any](s *Stream[T], name string, open func(subtask, parallelism int) (Writer[T], error)) {
	s.v.chained = append(s.v.chained, name)
	s.addConsumer(func(sub *subtask) collector[T] {
		w, err := open(sub.index, sub.parallelism)
		if err != nil {
			panic(failure{fmt.Errorf("sink %s: open: %w", name, err)})
		}
		ws := &writerSink[T]{name: name, w: w}
		sub.run.onClose(ws.release)
		if tp, ok := w.(TwoPhaseWriter[T]); ok {
			ws.tp = tp
			sub.addSnapshotter("sink/"+name, ws)
			sub.committers = append(sub.committers, ws.commit)
		}
		return counted(sub, collector[T](ws))
	})
}

type writerSink[T any] struct {
	name   string
	w      Writer[T]
	closed bool
	tp     TwoPhaseWriter[T]
	// pending are the transactions pre-committed for checkpoints not known complete.
	pending []PendingTxn
}

// TwoPhaseWriter is a Writer whose output becomes visible only when the checkpoint that
// covers it completes, which makes a job's output exactly-once: PreCommit closes the
// current transaction when a checkpoint's barrier reaches the sink and returns what
// Commit needs to finish it; the transaction is saved in the checkpoint, so a restore
// finishes it too. Commit must be idempotent: after a crash it may run again.
type TwoPhaseWriter[T any] interface {
	Writer[T]
	PreCommit(checkpoint int64) (txn []byte, err error)
	Commit(txn []byte) error
}

// PendingTxn is a pre-committed transaction of a sink.
type PendingTxn struct {
	Checkpoint int64
	Txn        []byte
}

func (s *writerSink[T]) snapshotState() func(*stateWriter) error {
	pending := slices.Clone(s.pending)
	return func(w *stateWriter) error { return w.put("pending", spreadGroup, pending) }
}

// restoreState finishes the transactions of the restored checkpoint: it completed, so
// what they hold belongs to the output.
func (s *writerSink[T]) restoreState(r *stateReader) error {
	return r.each("pending", func(_ int, dec *gob.Decoder) error {
		var pending []PendingTxn
		if err := dec.Decode(&pending); err != nil {
			return err
		}
		for _, p := range pending {
			if err := s.tp.Commit(p.Txn); err != nil {
				return fmt.Errorf("sink %s: finish transaction of checkpoint %d: %w", s.name, p.Checkpoint, err)
			}
		}
		return nil
	})
}

// commit finishes the transactions of checkpoints up to id.
func (s *writerSink[T]) commit(id int64) {
	keep := s.pending[:0]
	for _, p := range s.pending {
		if p.Checkpoint <= id {
			s.check(s.tp.Commit(p.Txn))
			continue
		}
		keep = append(keep, p)
	}
	s.pending = keep
}

func (s *writerSink[T]) check(err error) {
	if err != nil {
		panic(failure{fmt.Errorf("sink %s: %w", s.name, err)})
	}
}

func (s *writerSink[T]) record(v T, ts int64) { s.check(s.w.Write(v, ts)) }
func (s *writerSink[T]) watermark(int64)      { s.check(s.w.Flush()) }
func (s *writerSink[T]) idle()                { s.check(s.w.Flush()) }
func (s *writerSink[T]) barrier(id int64) {
	s.check(s.w.Flush())
	if s.tp != nil {
		txn, err := s.tp.PreCommit(id)
		s.check(err)
		s.pending = append(s.pending, PendingTxn{Checkpoint: id, Txn: txn})
	}
}

// end commits what is left: a bounded input that ended has nothing to replay.
func (s *writerSink[T]) end() {
	s.check(s.w.Flush())
	if s.tp != nil {
		txn, err := s.tp.PreCommit(-1)
		s.check(err)
		s.pending = append(s.pending, PendingTxn{Checkpoint: -1, Txn: txn})
		for _, p := range s.pending {
			s.check(s.tp.Commit(p.Txn))
		}
		s.pending = nil
	}
	s.closed = true
	s.check(s.w.Close())
}

// release closes a writer whose input did not end; nothing is committed.
func (s *writerSink[T]) release() {
	if !s.closed {
		s.closed = true
		_ = s.w.Close()
	}
}
