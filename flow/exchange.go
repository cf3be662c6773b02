package flow

import (
	"github.com/eddy-streams/eddy/internal/engine"
)

// edge carries one stream to the subtasks of another vertex through bounded channels:
// one channel per receiving subtask, shared by every sending subtask.
type edge[T any] struct {
	chans   []chan engine.Message[T]
	senders int
	// route picks the receiving subtask of a record; nil sends round-robin.
	route func(v T, receivers int) int
}

func (e *edge[T]) allocate(receivers, capacity int) {
	e.chans = make([]chan engine.Message[T], receivers)
	for i := range e.chans {
		e.chans[i] = make(chan engine.Message[T], capacity)
	}
}

// writer is the sending end of an edge in one subtask: it batches records per receiver.
type writer[T any] struct {
	e     *edge[T]
	from  int
	done  <-chan struct{}
	bufs  [][]engine.Record[T]
	size  int
	next  int // round-robin position
	ended bool
}

func newWriter[T any](e *edge[T], from int, sub *subtask) *writer[T] {
	return &writer[T]{e: e, from: from, done: sub.run.done, bufs: make([][]engine.Record[T], len(e.chans)), size: sub.run.job.opts.BatchSize}
}

func (w *writer[T]) send(i int, m engine.Message[T]) {
	select {
	case w.e.chans[i] <- m:
	case <-w.done:
		panic(errAborted)
	}
}

func (w *writer[T]) record(v T, ts int64) {
	var i int
	if w.e.route != nil {
		i = w.e.route(v, len(w.e.chans))
	} else {
		i = w.next
		w.next = (w.next + 1) % len(w.e.chans)
	}
	b := w.bufs[i]
	if b == nil {
		b = make([]engine.Record[T], 0, w.size)
	}
	b = append(b, engine.Record[T]{Value: v, Time: ts})
	if len(b) >= w.size {
		w.send(i, engine.Message[T]{Kind: engine.Data, From: w.from, Records: b})
		b = nil
	}
	w.bufs[i] = b
}

func (w *writer[T]) flush() {
	for i, b := range w.bufs {
		if len(b) > 0 {
			w.send(i, engine.Message[T]{Kind: engine.Data, From: w.from, Records: b})
			w.bufs[i] = nil
		}
	}
}

func (w *writer[T]) watermark(wm int64) {
	w.flush()
	for i := range w.e.chans {
		w.send(i, engine.Message[T]{Kind: engine.Watermark, From: w.from, Watermark: wm})
	}
}

func (w *writer[T]) idle() {
	w.flush()
	for i := range w.e.chans {
		w.send(i, engine.Message[T]{Kind: engine.Idle, From: w.from})
	}
}

func (w *writer[T]) end() {
	if w.ended {
		return
	}
	w.ended = true
	w.flush()
	for i := range w.e.chans {
		w.send(i, engine.Message[T]{Kind: engine.End, From: w.from})
	}
}

// input is the receiving loop of one subtask: it merges the senders' watermarks, passes
// records on, and finishes when every sender has ended.
type input[T any] struct {
	ch      <-chan engine.Message[T]
	senders int
	tracker *engine.WatermarkTracker
	ended   int
	out     collector[T]
}

func newInput[T any](ch <-chan engine.Message[T], senders int, out collector[T]) *input[T] {
	return &input[T]{ch: ch, senders: senders, tracker: engine.NewWatermarkTracker(senders), out: out}
}

// handle processes one message and reports whether every sender has ended.
func (in *input[T]) handle(m engine.Message[T]) bool {
	switch m.Kind {
	case engine.Data:
		in.tracker.Activate(m.From)
		for i := range m.Records {
			r := &m.Records[i]
			in.out.record(r.Value, r.Time)
		}
	case engine.Watermark:
		if wm, advanced := in.tracker.Update(m.From, m.Watermark); advanced {
			in.out.watermark(wm)
		}
	case engine.Idle:
		if wm, advanced := in.tracker.SetIdle(m.From); advanced {
			in.out.watermark(wm)
		}
	case engine.End:
		in.ended++
		// An ended sender holds nothing back.
		if wm, advanced := in.tracker.Update(m.From, engine.MaxWatermark); advanced && in.ended < in.senders {
			in.out.watermark(wm)
		}
		if in.ended == in.senders {
			if in.tracker.Current() == engine.MaxWatermark {
				in.out.watermark(engine.MaxWatermark)
			}
			in.out.end()
			return true
		}
	}
	return false
}
