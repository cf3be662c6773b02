package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/eddy-streams/eddy/internal/atomicfile"
)

// Options configure a log.
type Options struct {
	// Dir is the log's directory, created if missing. Nothing else may write in it.
	Dir string
	// SegmentSize is the size past which the log starts a new segment file (default
	// 64 MiB). Whole segments are the unit RemoveSegmentsBefore deletes.
	SegmentSize int64
	// Fsync makes Append return only after the entry is fsynced (true in production);
	// false returns once the entry is written to the operating system, which survives a
	// crash of the process but not of the machine.
	Fsync bool
	// MaxPending bounds the bytes queued for the writer (default 8 MiB); an Append that
	// would exceed it waits. One entry larger than the bound is still taken when the queue
	// is empty.
	MaxPending int
	// Logger receives the warning when Open truncates a torn tail (default: discarded).
	Logger *slog.Logger

	// wrapFile lets tests inject write and sync failures into segment files.
	wrapFile func(*os.File) segmentFile
}

const (
	defaultSegmentSize = 64 << 20
	defaultMaxPending  = 8 << 20
)

// ErrClosed is returned by calls on a closed log.
var ErrClosed = errors.New("write-ahead log is closed")

// Pos is the position of an entry: its segment and the offset of its frame in it. The zero
// Pos is before every entry.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q in the log.
func (p Pos) Less(q Pos) bool {
	return p.Segment < q.Segment || p.Segment == q.Segment && p.Offset < q.Offset
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Segment, p.Offset) }

// segmentFile is what the writer needs of an open segment.
type segmentFile interface {
	io.Writer
	Sync() error
	Close() error
}

// Log is one table's write-ahead log. Its methods are safe for concurrent use.
type Log struct {
	opts Options

	mu       sync.Mutex
	notFull  sync.Cond // signalled when the writer takes the queue, the log fails or closes
	queue    *batch    // accepted entries the writer has not taken yet; nil if none
	queued   int       // bytes in queue
	next     Pos       // position the next entry gets
	written  Pos       // end of what the writer has written (and synced, with Fsync)
	segments []uint64  // segment files on disk, ascending
	err      error     // set for good by a failed write or sync
	closed   bool
	free     [][]byte // buffers of written batches, for the next ones

	removeMu sync.Mutex // serialises RemoveSegmentsBefore

	wake     chan struct{} // capacity 1: there is a queue, or the log is closing
	done     chan struct{} // closed when the writer has exited
	closeErr error         // the writer's last word, read after done

	// Owned by the writer goroutine.
	f    segmentFile
	fseg uint64 // segment number of f

	syncs atomic.Int64 // fsyncs of batches, for benchmarks
}

// batch is what one write and one fsync cover.
type batch struct {
	chunks []chunk // consecutive segments; usually one
	end    Pos
	done   chan struct{} // closed once written, with err set
	err    error
}

type chunk struct {
	segment uint64
	data    []byte
}

// Open opens the log in opts.Dir, creating the directory if missing, and finds its end. A
// torn tail in the last segment is truncated away (see the package documentation).
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("open write-ahead log: no directory")
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = defaultSegmentSize
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = defaultMaxPending
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.wrapFile == nil {
		opts.wrapFile = func(f *os.File) segmentFile { return f }
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open write-ahead log: %w", err)
	}
	l := &Log{
		opts: opts,
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	l.notFull.L = &l.mu
	if err := l.recover(); err != nil {
		if l.f != nil {
			_ = l.f.Close()
		}
		return nil, fmt.Errorf("open write-ahead log %s: %w", opts.Dir, err)
	}
	l.written = l.next
	go l.run()
	return l, nil
}

// recover reads the segments on disk and sets segments, next and, when the last segment
// has room, f.
func (l *Log) recover() error {
	segs, err := listSegments(l.opts.Dir)
	if err != nil {
		return err
	}
	l.segments = segs
	if len(segs) == 0 {
		l.next = Pos{Segment: 1, Offset: headerSize}
		return nil
	}
	for i, n := range segs {
		if i > 0 && n != segs[i-1]+1 {
			return fmt.Errorf("segment %s is missing", l.segmentPath(segs[i-1]+1))
		}
		if i == len(segs)-1 {
			break
		}
		if err := l.checkSegmentHeader(n); err != nil {
			return err
		}
	}
	last := segs[len(segs)-1]
	end, err := l.recoverLast(last)
	if err != nil {
		return err
	}
	l.next = Pos{Segment: last, Offset: end}
	if end >= l.opts.SegmentSize {
		l.next = Pos{Segment: last + 1, Offset: headerSize}
		return nil
	}
	f, err := os.OpenFile(l.segmentPath(last), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open segment for appending: %w", err)
	}
	l.f, l.fseg = l.opts.wrapFile(f), last
	return nil
}

func (l *Log) checkSegmentHeader(n uint64) error {
	f, err := os.Open(l.segmentPath(n))
	if err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	err = checkHeader(f)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &CorruptError{File: f.Name(), Reason: "header cut short"}
	}
	return err
}

// recoverLast scans the last segment, truncates a torn tail, and returns the segment's
// size afterwards.
func (l *Log) recoverLast(n uint64) (int64, error) {
	path := l.segmentPath(n)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat segment: %w", err)
	}
	size := st.Size()
	if err := checkHeader(f); err != nil {
		var corrupt *CorruptError
		if size > headerSize || !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &corrupt) {
			return 0, err
		}
		// A crash while the segment was being created, before its header was synced: no
		// frame was written to it yet.
		l.opts.Logger.Warn("write-ahead log: starting a segment with a torn header again", "file", path, "size", size)
		if err := f.Truncate(0); err != nil {
			return 0, fmt.Errorf("truncate segment with a torn header: %w", err)
		}
		if _, err := f.WriteAt(appendHeader(nil), 0); err != nil {
			return 0, fmt.Errorf("rewrite segment header: %w", err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("sync segment: %w", err)
		}
		return headerSize, nil
	}
	fr := newFrameReader(f, headerSize, size, bufio.NewReaderSize(nil, readBufSize))
	for {
		_, err := fr.next()
		if err == nil {
			continue
		}
		if err == io.EOF {
			return size, nil
		}
		var bad *badFrame
		if !errors.As(err, &bad) {
			return 0, fmt.Errorf("read segment %s: %w", path, err)
		}
		l.opts.Logger.Warn("write-ahead log: truncating a torn tail", "file", path, "offset", fr.off,
			"bytes", size-fr.off, "reason", bad.reason)
		if err := f.Truncate(fr.off); err != nil {
			return 0, fmt.Errorf("truncate torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("sync segment %s: %w", path, err)
		}
		return fr.off, nil
	}
}

// Append adds one entry and returns its position once it is durable (per Options.Fsync).
// payload must not be empty; the log copies it, so the caller may reuse it afterwards.
func (l *Log) Append(payload []byte) (Pos, error) {
	one := [1][]byte{payload}
	return l.AppendBatch(one[:])
}

// AppendBatch adds several entries with one wait and returns the position of the first.
// The entries are consecutive in one segment: each is at the position of the one before
// plus 8 bytes plus the length of that one's payload. An empty batch appends nothing and
// returns End().
func (l *Log) AppendBatch(payloads [][]byte) (Pos, error) {
	first, wait := l.enqueue(payloads)
	if err := wait(); err != nil {
		return Pos{}, err
	}
	return first, nil
}

// AppendAsync queues one entry and returns at once with its position and a function
// that waits until it is durable. Entries are written in the order AppendAsync queued
// them, so a caller that queues under its own lock gets the log in its own order while
// the waits, outside the lock, share one fsync.
func (l *Log) AppendAsync(payload []byte) (Pos, func() error) {
	one := [1][]byte{payload}
	return l.enqueue(one[:])
}

// enqueue queues payloads for the writer goroutine, blocking while the queue is full,
// and returns the first one's position and the wait for the batch they joined.
func (l *Log) enqueue(payloads [][]byte) (Pos, func() error) {
	size := 0
	for _, p := range payloads {
		if len(p) == 0 || len(p) > MaxEntrySize {
			err := fmt.Errorf("append to write-ahead log %s: entry of %d bytes, want 1 to %d", l.opts.Dir, len(p), MaxEntrySize)
			return Pos{}, func() error { return err }
		}
		size += frameHeaderSize + len(p)
	}
	if len(payloads) == 0 {
		return l.End(), func() error { return nil }
	}

	l.mu.Lock()
	for {
		if l.err != nil {
			err := fmt.Errorf("append to write-ahead log %s: refused after an earlier failure: %w", l.opts.Dir, l.err)
			l.mu.Unlock()
			return Pos{}, func() error { return err }
		}
		if l.closed {
			l.mu.Unlock()
			err := fmt.Errorf("append to write-ahead log %s: %w", l.opts.Dir, ErrClosed)
			return Pos{}, func() error { return err }
		}
		if l.queued == 0 || l.queued+size <= l.opts.MaxPending {
			break
		}
		l.notFull.Wait()
	}
	b := l.queue
	if b == nil {
		b = &batch{done: make(chan struct{})}
		l.queue = b
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	if l.next.Offset >= l.opts.SegmentSize {
		l.next = Pos{Segment: l.next.Segment + 1, Offset: headerSize}
	}
	first := l.next
	if len(b.chunks) == 0 || b.chunks[len(b.chunks)-1].segment != first.Segment {
		b.chunks = append(b.chunks, chunk{segment: first.Segment, data: l.takeBuffer()})
	}
	c := &b.chunks[len(b.chunks)-1]
	for _, p := range payloads {
		c.data = appendFrame(c.data, p)
	}
	l.next.Offset += int64(size)
	b.end = l.next
	l.queued += size
	l.mu.Unlock()

	return first, func() error {
		<-b.done
		if b.err != nil {
			return fmt.Errorf("append to write-ahead log %s: %w", l.opts.Dir, b.err)
		}
		return nil
	}
}

func (l *Log) takeBuffer() []byte {
	if n := len(l.free); n > 0 {
		buf := l.free[n-1]
		l.free = l.free[:n-1]
		return buf
	}
	return nil
}

// End returns the position the next entry will get.
func (l *Log) End() Pos {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.next.Offset >= l.opts.SegmentSize {
		return Pos{Segment: l.next.Segment + 1, Offset: headerSize}
	}
	return l.next
}

// Segments returns the numbers of the segment files on disk, ascending. A new log has none
// until its first Append.
func (l *Log) Segments() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.segments...)
}

// RemoveSegmentsBefore deletes the segment files numbered below segment, except the last
// one, which the log appends to. Entries in them are gone for Replay; the caller removes
// only what the memory tier no longer needs. It must not run while a Replay reads those
// segments.
func (l *Log) RemoveSegmentsBefore(segment uint64) error {
	l.removeMu.Lock()
	defer l.removeMu.Unlock()
	l.mu.Lock()
	var doomed []uint64
	for i, n := range l.segments {
		if n >= segment || i == len(l.segments)-1 {
			break
		}
		doomed = append(doomed, n)
	}
	l.mu.Unlock()
	if len(doomed) == 0 {
		return nil
	}
	removed := 0
	var err error
	for _, n := range doomed {
		if err = os.Remove(l.segmentPath(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("remove write-ahead log segment: %w", err)
			break
		}
		err = nil
		removed++
	}
	l.mu.Lock()
	l.segments = append(l.segments[:0], l.segments[removed:]...)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.SyncDir(l.opts.Dir)
}

// Close writes and fsyncs every entry already accepted, then closes the files. Appends
// waiting for room in the queue and later ones fail with ErrClosed. Close returns the
// error that broke the log, if one did.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	l.notFull.Broadcast()
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.done
	return l.closeErr
}

// run is the writer goroutine: it takes the whole queue at once, writes it with one write
// call per segment and one fsync, and releases its waiters.
func (l *Log) run() {
	defer close(l.done)
	for range l.wake {
		l.mu.Lock()
		b, closed, failed := l.queue, l.closed, l.err
		l.queue, l.queued = nil, 0
		l.notFull.Broadcast()
		l.mu.Unlock()

		if b != nil {
			if failed != nil {
				b.err = failed
			} else {
				b.err = l.write(b)
			}
			l.finish(b)
		}
		if closed {
			l.closeErr = l.shutdown()
			return
		}
	}
}

// write writes and, with Fsync, syncs a batch.
func (l *Log) write(b *batch) error {
	for _, c := range b.chunks {
		if l.f == nil || c.segment != l.fseg {
			if err := l.startSegment(c.segment); err != nil {
				return err
			}
		}
		if _, err := l.f.Write(c.data); err != nil {
			return fmt.Errorf("write segment %s: %w", segmentName(l.fseg), err)
		}
	}
	if l.opts.Fsync {
		l.syncs.Add(1)
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("sync segment %s: %w", segmentName(l.fseg), err)
		}
	}
	return nil
}

// finish records the outcome of a written batch and releases its waiters. A failure is
// final: the log refuses appends from now on. Retrying the write or the fsync is not
// safe, since after a failed fsync Linux may have marked the unwritten pages clean, and a
// second fsync then reports success for data that never reached the disk (fsyncgate).
func (l *Log) finish(b *batch) {
	l.mu.Lock()
	if b.err != nil {
		if l.err == nil {
			l.err = b.err
		}
		l.notFull.Broadcast()
	} else {
		l.written = b.end
	}
	for i := range b.chunks {
		if len(l.free) < 2 && cap(b.chunks[i].data) <= 2*l.opts.MaxPending {
			l.free = append(l.free, b.chunks[i].data[:0])
		}
		b.chunks[i].data = nil
	}
	l.mu.Unlock()
	close(b.done)
}

// startSegment syncs and closes the current segment and creates segment n. Segment
// boundaries are synced whatever Options.Fsync says, so that only the last segment can
// end torn and a closed log is entirely on disk.
func (l *Log) startSegment(n uint64) error {
	if err := l.closeFile(); err != nil {
		return err
	}
	path := l.segmentPath(n)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	l.f, l.fseg = l.opts.wrapFile(f), n
	if _, err := l.f.Write(appendHeader(nil)); err != nil {
		return fmt.Errorf("write header of %s: %w", path, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync new segment %s: %w", path, err)
	}
	if err := atomicfile.SyncDir(l.opts.Dir); err != nil {
		return err
	}
	l.mu.Lock()
	l.segments = append(l.segments, n)
	l.mu.Unlock()
	return nil
}

// shutdown closes the open segment when the log closes, and returns the error that broke
// the log, if one did.
func (l *Log) shutdown() error {
	l.mu.Lock()
	failed := l.err
	l.mu.Unlock()
	if failed == nil {
		return l.closeFile()
	}
	if l.f != nil {
		_ = l.f.Close() // no sync: it could not be trusted (see finish)
		l.f = nil
	}
	return fmt.Errorf("close write-ahead log %s: %w", l.opts.Dir, failed)
}

// closeFile syncs and closes the open segment, if any.
func (l *Log) closeFile() error {
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync segment %s: %w", segmentName(l.fseg), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close segment %s: %w", segmentName(l.fseg), err)
	}
	return nil
}
