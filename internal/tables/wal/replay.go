package wal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// Replay calls fn for every entry at or after from, in log order, and stops at the first
// error fn returns, returning it. from is a position Append, AppendBatch, End or Replay
// gave, or the zero Pos for everything on disk. payload is valid only during the call.
//
// Replay sees the entries written before it started; it may run alongside Append, and
// before the first Append after Open, which is how the memory tier is rebuilt. A damaged
// frame is a *CorruptError naming the file and offset.
func (l *Log) Replay(from Pos, fn func(pos Pos, payload []byte) error) error {
	l.mu.Lock()
	limit, segs := l.written, slices.Clone(l.segments)
	l.mu.Unlock()
	r := bufio.NewReaderSize(nil, readBufSize)
	for _, n := range segs {
		if n < from.Segment || n > limit.Segment {
			continue
		}
		if err := l.replaySegment(n, from, limit, r, fn); err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) replaySegment(n uint64, from, limit Pos, r *bufio.Reader, fn func(Pos, []byte) error) error {
	path := l.segmentPath(n)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replay write-ahead log: %w", err)
	}
	defer f.Close()
	if err := checkHeader(f); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &CorruptError{File: path, Reason: "header cut short"}
		}
		return err
	}
	start := int64(headerSize)
	if n == from.Segment && from.Offset > start {
		start = from.Offset
	}
	end := limit.Offset
	if n < limit.Segment {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("replay write-ahead log: %w", err)
		}
		end = st.Size()
	}
	if start >= end {
		return nil
	}
	fr := newFrameReader(f, start, end, r)
	for {
		off := fr.off
		payload, err := fr.next()
		if err == io.EOF {
			return nil
		}
		var bad *badFrame
		if errors.As(err, &bad) {
			return &CorruptError{File: path, Offset: off, Reason: bad.reason}
		}
		if err != nil {
			return fmt.Errorf("replay write-ahead log segment %s: %w", path, err)
		}
		if err := fn(Pos{Segment: n, Offset: off}, payload); err != nil {
			return err
		}
	}
}
