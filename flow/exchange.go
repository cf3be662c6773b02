package flow

import (
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// edge carries one stream to the subtasks of another vertex through bounded channels:
// one channel per receiving subtask, shared by every sending subtask.
type edge[T any] struct {
	chans   []chan engine.Message[T]
	senders int
	// route picks the receiving subtask of a record; nil sends round-robin.
	route func(v T, receivers int) int
	// broadcast sends every record to every receiving subtask.
	broadcast bool
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
	m     *subtaskMetrics
	from  int
	done  <-chan struct{}
	bufs  [][]engine.Record[T]
	size  int
	next  int // round-robin position
	ended bool
}

func newWriter[T any](e *edge[T], from int, sub *subtask) *writer[T] {
	w := &writer[T]{e: e, m: sub.m, from: from, done: sub.run.done, bufs: make([][]engine.Record[T], len(e.chans)), size: sub.run.job.opts.BatchSize}
	sub.flushers = append(sub.flushers, w.flush)
	return w
}

// send delivers a message, waiting while the receiver's channel is full; that wait is
// the subtask's backpressured time.
func (w *writer[T]) send(i int, m engine.Message[T]) {
	w.m.recordsOut.Add(int64(len(m.Records)))
	select {
	case w.e.chans[i] <- m:
		return
	default:
	}
	start := time.Now()
	select {
	case w.e.chans[i] <- m:
	case <-w.done:
		panic(errAborted)
	}
	w.m.backNs.Add(int64(time.Since(start)))
}

func (w *writer[T]) record(v T, ts int64) {
	if w.e.broadcast {
		for i := range w.bufs {
			w.add(i, v, ts)
		}
		return
	}
	var i int
	if w.e.route != nil {
		i = w.e.route(v, len(w.e.chans))
	} else {
		i = w.next
		w.next = (w.next + 1) % len(w.e.chans)
	}
	w.add(i, v, ts)
}

func (w *writer[T]) add(i int, v T, ts int64) {
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

func (w *writer[T]) barrier(id int64) {
	w.flush()
	for i := range w.e.chans {
		w.send(i, engine.Message[T]{Kind: engine.Barrier, From: w.from, Checkpoint: id})
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

// gate merges the control messages of every sender feeding a subtask, over one or more
// inputs: the subtask's watermark is the minimum over the senders not idle, and it ends
// when every sender has ended.
type gate struct {
	m       *subtaskMetrics
	tracker *engine.WatermarkTracker
	senders int
	ended   int
	onWM    func(wm int64)
	onEnd   func()

	// Barrier alignment: once a sender's barrier arrives, its later messages wait in
	// its input's queue until every live sender's barrier has arrived; then the subtask
	// takes its snapshot and the queued messages are processed.
	onBarrier func(id int64)
	blocked   []bool
	arrived   int
	aligning  int64
	inputs    []replayer
}

// replayer is an input whose queued messages can be processed after an alignment.
type replayer interface{ replay() bool }

func newGate(m *subtaskMetrics, senders int, onWM func(int64), onEnd func()) *gate {
	g := &gate{m: m, tracker: engine.NewWatermarkTracker(senders), senders: senders, onEnd: onEnd, blocked: make([]bool, senders)}
	g.onWM = func(wm int64) {
		m.watermark.Store(wm)
		onWM(wm)
	}
	return g
}

// control handles a non-data message from sender from and reports whether every sender
// has ended.
func (g *gate) control(kind engine.Kind, from int, wm int64) bool {
	switch kind {
	case engine.Watermark:
		if w, advanced := g.tracker.Update(from, wm); advanced {
			g.onWM(w)
		}
	case engine.Idle:
		if w, advanced := g.tracker.SetIdle(from); advanced {
			g.onWM(w)
		}
	case engine.End:
		g.ended++
		if g.aligning != 0 && g.arrived == g.senders-g.ended {
			if g.completeAlignment() {
				return true
			}
		}
		// An ended sender holds nothing back.
		w, advanced := g.tracker.Update(from, engine.MaxWatermark)
		if advanced && (g.ended < g.senders || w == engine.MaxWatermark) {
			g.onWM(w)
		}
		if g.ended == g.senders {
			g.onEnd()
			return true
		}
	}
	return false
}

// barrier handles checkpoint id's barrier from sender from and reports whether every
// sender has ended (possible while queued messages are replayed).
func (g *gate) barrier(from int, id int64) bool {
	for g.aligning != 0 && id > g.aligning {
		// A newer checkpoint's barrier while aligning: the coordinator abandoned the
		// checkpoint being aligned (it timed out). Stop aligning it and process what its
		// alignment held back, then align the new one.
		g.aligning, g.arrived = 0, 0
		clear(g.blocked)
		for _, in := range g.inputs {
			if in.replay() {
				return true
			}
		}
	}
	if g.aligning != 0 && id < g.aligning {
		return false // a stale barrier of an abandoned checkpoint
	}
	g.aligning = id
	g.blocked[from] = true
	g.arrived++
	if g.arrived == g.senders-g.ended {
		return g.completeAlignment()
	}
	return false
}

func (g *gate) completeAlignment() bool {
	id := g.aligning
	g.aligning, g.arrived = 0, 0
	clear(g.blocked)
	if g.onBarrier != nil {
		g.onBarrier(id)
	}
	for _, in := range g.inputs {
		if in.replay() {
			return true
		}
	}
	return false
}

// input is one edge into a subtask: its records go to rec, its control messages to the
// subtask's gate. Sender numbers are offset so that several inputs share one gate.
type input[T any] struct {
	ch     <-chan engine.Message[T]
	offset int
	g      *gate
	rec    func(v T, ts int64)
	queue  []engine.Message[T]
}

func newInput[T any](sub *subtask, ch <-chan engine.Message[T], senders int, out collector[T]) *input[T] {
	g := newGate(sub.m, senders, out.watermark, out.end)
	g.onBarrier = func(id int64) {
		out.barrier(id)
		sub.checkpoint(id)
	}
	return attachInput(g, &input[T]{ch: ch, g: g, rec: out.record})
}

func attachInput[T any](g *gate, in *input[T]) *input[T] {
	g.inputs = append(g.inputs, in)
	return in
}

// replay processes the messages queued during an alignment, in order; those of a sender
// that a queued barrier blocks again are queued again.
func (in *input[T]) replay() bool {
	q := in.queue
	in.queue = nil
	for _, m := range q {
		if in.handle(m) {
			return true
		}
	}
	return false
}

// handle processes one message and reports whether every sender of the gate has ended.
func (in *input[T]) handle(m engine.Message[T]) bool {
	if in.g.blocked[in.offset+m.From] {
		in.queue = append(in.queue, m)
		return false
	}
	if m.Kind == engine.Barrier {
		return in.g.barrier(in.offset+m.From, m.Checkpoint)
	}
	if m.Kind == engine.Data {
		in.g.m.recordsIn.Add(int64(len(m.Records)))
		in.g.tracker.Activate(in.offset + m.From)
		for i := range m.Records {
			r := &m.Records[i]
			in.rec(r.Value, r.Time)
		}
		return false
	}
	return in.g.control(m.Kind, in.offset+m.From, m.Watermark)
}
