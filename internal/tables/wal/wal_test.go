package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// payloadFor is entry i's payload: its number, then filler of a length that varies so
// frames fall at irregular offsets.
func payloadFor(i int) []byte {
	p := fmt.Appendf(nil, "entry %d:", i)
	for j := range (i * 37) % 301 {
		p = append(p, byte('a'+(i+j)%26))
	}
	return p
}

type entry struct {
	pos     Pos
	payload []byte
}

func replayAll(t *testing.T, l *Log, from Pos) []entry {
	t.Helper()
	var got []entry
	err := l.Replay(from, func(pos Pos, payload []byte) error {
		got = append(got, entry{pos, bytes.Clone(payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("replay from %v: %v", from, err)
	}
	return got
}

func mustOpen(t *testing.T, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustClose(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// appendN appends payloadFor(0..n-1) one by one and returns what was appended.
func appendN(t *testing.T, l *Log, n int) []entry {
	t.Helper()
	var want []entry
	for i := range n {
		p := payloadFor(i)
		pos, err := l.Append(p)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, entry{pos, p})
	}
	return want
}

func checkEntries(t *testing.T, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].pos != want[i].pos || !bytes.Equal(got[i].payload, want[i].payload) {
			t.Fatalf("entry %d: got %v %q, want %v %q", i, got[i].pos, got[i].payload, want[i].pos, want[i].payload)
		}
	}
}

func TestRoundTripAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentSize: 4 << 10, Fsync: true}
	l := mustOpen(t, opts)
	if got := l.End(); got != (Pos{Segment: 1, Offset: headerSize}) {
		t.Fatalf("end of a new log: %v", got)
	}
	want := appendN(t, l, 300)
	for i := 1; i < len(want); i++ {
		if !want[i-1].pos.Less(want[i].pos) {
			t.Fatalf("positions out of order: %v then %v", want[i-1].pos, want[i].pos)
		}
	}
	segs := l.Segments()
	if len(segs) < 5 || segs[0] != 1 || segs[len(segs)-1] != uint64(len(segs)) {
		t.Fatalf("segments %v", segs)
	}
	for _, n := range segs {
		st, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%020d.wal", n)))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > opts.SegmentSize+frameHeaderSize+301+20 {
			t.Fatalf("segment %d is %d bytes, past the size by more than a frame", n, st.Size())
		}
	}
	checkEntries(t, replayAll(t, l, Pos{}), want)
	end := l.End()
	mustClose(t, l)

	l = mustOpen(t, opts)
	defer mustClose(t, l)
	checkEntries(t, replayAll(t, l, Pos{}), want)
	if got := l.End(); got != end {
		t.Fatalf("end after reopening %v, before %v", got, end)
	}
	pos, err := l.Append([]byte("after reopening"))
	if err != nil {
		t.Fatal(err)
	}
	if pos != end {
		t.Fatalf("first append after reopening at %v, want %v", pos, end)
	}
	got := replayAll(t, l, end)
	if len(got) != 1 || string(got[0].payload) != "after reopening" {
		t.Fatalf("replay from the old end: %v", got)
	}
}

func TestReplayFromMiddle(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), SegmentSize: 2 << 10})
	defer mustClose(t, l)
	want := appendN(t, l, 100)

	for _, k := range []int{0, 1, 37, 50, 99} {
		checkEntries(t, replayAll(t, l, want[k].pos), want[k:])
	}
	// The first entry of a segment, reached through the segment's header offset.
	for k := 1; k < len(want); k++ {
		if want[k].pos.Segment != want[k-1].pos.Segment {
			checkEntries(t, replayAll(t, l, Pos{Segment: want[k].pos.Segment}), want[k:])
			break
		}
	}
	if got := replayAll(t, l, l.End()); len(got) != 0 {
		t.Fatalf("replay from the end returned %d entries", len(got))
	}

	stop := errors.New("stop")
	calls := 0
	err := l.Replay(Pos{}, func(Pos, []byte) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Fatalf("replay returned %v after %d calls, want the callback's error after 3", err, calls)
	}
}

func TestConcurrentAppenders(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fsync      bool
		goroutines int
		perG       int
	}{
		{"fsync", true, 8, 300},
		{"no-fsync", false, 8, 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A small queue bound makes appenders wait for room as well as for the writer.
			opts := Options{Dir: t.TempDir(), SegmentSize: 256 << 10, Fsync: tc.fsync, MaxPending: 4 << 10}
			l := mustOpen(t, opts)
			positions := make([][]Pos, tc.goroutines)
			var wg sync.WaitGroup
			for g := range tc.goroutines {
				wg.Go(func() {
					for i := 0; i < tc.perG; {
						// Every third goroutine appends in batches of three.
						if g%3 == 2 && i+3 <= tc.perG {
							ps := [][]byte{fmt.Appendf(nil, "%d/%d", g, i), fmt.Appendf(nil, "%d/%d", g, i+1), fmt.Appendf(nil, "%d/%d", g, i+2)}
							pos, err := l.AppendBatch(ps)
							if err != nil {
								t.Error(err)
								return
							}
							positions[g] = append(positions[g], pos)
							for _, p := range ps[:2] {
								pos.Offset += int64(frameHeaderSize + len(p))
								positions[g] = append(positions[g], pos)
							}
							i += 3
							continue
						}
						pos, err := l.Append(fmt.Appendf(nil, "%d/%d", g, i))
						if err != nil {
							t.Error(err)
							return
						}
						positions[g] = append(positions[g], pos)
						i++
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				mustClose(t, l)
				return
			}
			mustClose(t, l)

			l = mustOpen(t, opts)
			defer mustClose(t, l)
			next := make([]int, tc.goroutines)
			var last Pos
			for _, e := range replayAll(t, l, Pos{}) {
				if !last.Less(e.pos) {
					t.Fatalf("replayed %v after %v", e.pos, last)
				}
				last = e.pos
				var g, i int
				if _, err := fmt.Sscanf(string(e.payload), "%d/%d", &g, &i); err != nil {
					t.Fatalf("payload %q at %v: %v", e.payload, e.pos, err)
				}
				if i != next[g] {
					t.Fatalf("goroutine %d: replayed entry %d, want %d (each once, in append order)", g, i, next[g])
				}
				if positions[g][i] != e.pos {
					t.Fatalf("goroutine %d entry %d replayed at %v, appended at %v", g, i, e.pos, positions[g][i])
				}
				next[g]++
			}
			for g, n := range next {
				if n != tc.perG {
					t.Fatalf("goroutine %d: replayed %d entries, want %d", g, n, tc.perG)
				}
			}
		})
	}
}

func TestEntryLargerThanQueueBound(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), MaxPending: 100, SegmentSize: 1000})
	defer mustClose(t, l)
	big := bytes.Repeat([]byte("x"), 5000)
	want := []entry{}
	for _, p := range [][]byte{big, []byte("small"), big} {
		pos, err := l.Append(p)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{pos, p})
	}
	checkEntries(t, replayAll(t, l, Pos{}), want)
	// The first entry fills segment 1 past its size; the next two start segment 2.
	if got := l.Segments(); !slices.Equal(got, []uint64{1, 2}) || want[1].pos != (Pos{2, headerSize}) {
		t.Fatalf("segments %v, second entry at %v", got, want[1].pos)
	}
}

func TestEmptyEntryRefused(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir()})
	defer mustClose(t, l)
	if _, err := l.Append(nil); err == nil {
		t.Fatal("an empty entry was accepted")
	}
	if _, err := l.AppendBatch([][]byte{[]byte("a"), {}}); err == nil {
		t.Fatal("a batch with an empty entry was accepted")
	}
	if got := replayAll(t, l, Pos{}); len(got) != 0 {
		t.Fatalf("refused entries were written: %v", got)
	}
}

// segmentPath is the file of entry e's segment.
func segmentPath(dir string, e entry) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.wal", e.pos.Segment))
}

func TestTornTailIsTruncated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func(t *testing.T, dir string, last entry)
		keepLast bool // the last entry survives the damage
	}{
		{"cut in the payload", func(t *testing.T, dir string, last entry) {
			truncate(t, segmentPath(dir, last), last.pos.Offset+frameHeaderSize+int64(len(last.payload))/2)
		}, false},
		{"cut in the frame header", func(t *testing.T, dir string, last entry) {
			truncate(t, segmentPath(dir, last), last.pos.Offset+3)
		}, false},
		{"flipped byte in the payload", func(t *testing.T, dir string, last entry) {
			flipByte(t, segmentPath(dir, last), last.pos.Offset+frameHeaderSize+1)
		}, false},
		{"flipped byte in the length", func(t *testing.T, dir string, last entry) {
			flipByte(t, segmentPath(dir, last), last.pos.Offset)
		}, false},
		{"zeros after the last frame", func(t *testing.T, dir string, last entry) {
			f, err := os.OpenFile(segmentPath(dir, last), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 4096)); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"next segment with a torn header", func(t *testing.T, dir string, last entry) {
			path := filepath.Join(dir, fmt.Sprintf("%020d.wal", last.pos.Segment+1))
			if err := os.WriteFile(path, []byte("EDDYW"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"next segment with a zeroed header", func(t *testing.T, dir string, last entry) {
			path := filepath.Join(dir, fmt.Sprintf("%020d.wal", last.pos.Segment+1))
			if err := os.WriteFile(path, make([]byte, headerSize), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Dir: dir, SegmentSize: 4 << 10, Fsync: true}
			l := mustOpen(t, opts)
			want := appendN(t, l, 60)
			mustClose(t, l)
			last := want[len(want)-1]
			if last.pos.Segment < 2 {
				t.Fatalf("the test needs several segments, the last entry is at %v", last.pos)
			}
			tc.damage(t, dir, last)
			if !tc.keepLast {
				want = want[:len(want)-1]
			}

			l = mustOpen(t, opts)
			defer mustClose(t, l)
			checkEntries(t, replayAll(t, l, Pos{}), want)
			end := l.End()
			if !tc.keepLast && end != last.pos {
				t.Fatalf("end %v after truncation, want the torn frame's position %v", end, last.pos)
			}
			pos, err := l.Append([]byte("after repair"))
			if err != nil {
				t.Fatal(err)
			}
			if pos != end {
				t.Fatalf("appended at %v, want %v", pos, end)
			}
			checkEntries(t, replayAll(t, l, Pos{}), append(want, entry{pos, []byte("after repair")}))
		})
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[off] ^= 0x40
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionInEarlierSegmentIsAnError(t *testing.T) {
	build := func(t *testing.T) (string, Options, []entry) {
		dir := t.TempDir()
		opts := Options{Dir: dir, SegmentSize: 4 << 10}
		l := mustOpen(t, opts)
		want := appendN(t, l, 60)
		mustClose(t, l)
		return dir, opts, want
	}

	t.Run("frame", func(t *testing.T) {
		dir, opts, want := build(t)
		victim := want[5]
		if victim.pos.Segment == want[len(want)-1].pos.Segment {
			t.Fatal("the victim must not be in the last segment")
		}
		flipByte(t, segmentPath(dir, victim), victim.pos.Offset+frameHeaderSize+2)
		l := mustOpen(t, opts)
		defer mustClose(t, l)
		err := l.Replay(Pos{}, func(Pos, []byte) error { return nil })
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != segmentPath(dir, victim) || ce.Offset != victim.pos.Offset {
			t.Fatalf("replay over a damaged frame of %s at %d returned %v", segmentPath(dir, victim), victim.pos.Offset, err)
		}
		// Entries past the damage are still there for a replay that starts after it.
		checkEntries(t, replayAll(t, l, want[6].pos), want[6:])
	})

	t.Run("cut short", func(t *testing.T) {
		dir, opts, want := build(t)
		victim := want[0]
		st, err := os.Stat(segmentPath(dir, victim))
		if err != nil {
			t.Fatal(err)
		}
		truncate(t, segmentPath(dir, victim), st.Size()-1)
		l := mustOpen(t, opts)
		defer mustClose(t, l)
		err = l.Replay(Pos{}, func(Pos, []byte) error { return nil })
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != segmentPath(dir, victim) {
			t.Fatalf("replay over a segment cut short returned %v", err)
		}
	})

	t.Run("header", func(t *testing.T) {
		dir, opts, want := build(t)
		flipByte(t, segmentPath(dir, want[0]), 2)
		_, err := Open(opts)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.File != segmentPath(dir, want[0]) || ce.Offset != 0 {
			t.Fatalf("open with a damaged header in %s returned %v", segmentPath(dir, want[0]), err)
		}
	})

	t.Run("missing segment", func(t *testing.T) {
		dir, opts, _ := build(t)
		missing := filepath.Join(dir, fmt.Sprintf("%020d.wal", 2))
		if err := os.Remove(missing); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(opts); err == nil || !bytes.Contains([]byte(err.Error()), []byte(missing)) {
			t.Fatalf("open with %s missing returned %v", missing, err)
		}
	})
}

func TestRemoveSegmentsBefore(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentSize: 2 << 10}
	l := mustOpen(t, opts)
	want := appendN(t, l, 100)
	segs := l.Segments()
	if len(segs) < 5 {
		t.Fatalf("segments %v", segs)
	}

	if err := l.RemoveSegmentsBefore(3); err != nil {
		t.Fatal(err)
	}
	if got := l.Segments(); !slices.Equal(got, segs[2:]) {
		t.Fatalf("segments %v after removing those before 3, want %v", got, segs[2:])
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%020d.wal", 2))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("segment 2 is still on disk: %v", err)
	}
	k := slices.IndexFunc(want, func(e entry) bool { return e.pos.Segment == 3 })
	checkEntries(t, replayAll(t, l, Pos{}), want[k:])

	// The active segment stays, whatever the caller asks.
	if err := l.RemoveSegmentsBefore(1 << 40); err != nil {
		t.Fatal(err)
	}
	lastSeg := segs[len(segs)-1]
	if got := l.Segments(); !slices.Equal(got, []uint64{lastSeg}) {
		t.Fatalf("segments %v after removing everything, want the active one %d", got, lastSeg)
	}
	p := []byte("still appending")
	pos, err := l.Append(p)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)

	l = mustOpen(t, opts)
	defer mustClose(t, l)
	k = slices.IndexFunc(want, func(e entry) bool { return e.pos.Segment == lastSeg })
	checkEntries(t, replayAll(t, l, Pos{}), append(want[k:], entry{pos, p}))
}

func TestClose(t *testing.T) {
	opts := Options{Dir: t.TempDir()}
	l := mustOpen(t, opts)
	want := appendN(t, l, 10)
	mustClose(t, l)
	if _, err := l.Append([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close returned %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close returned %v", err)
	}
	l = mustOpen(t, opts)
	defer mustClose(t, l)
	checkEntries(t, replayAll(t, l, Pos{}), want)
}

var errInjected = errors.New("injected I/O error")

// faultyFile runs onSync, if set, in place of a real Sync.
type faultyFile struct {
	*os.File
	onSync *atomic.Pointer[func() error]
}

func (f *faultyFile) Sync() error {
	if fn := f.onSync.Load(); fn != nil {
		return (*fn)()
	}
	return f.File.Sync()
}

func TestFailedSyncBreaksTheLog(t *testing.T) {
	dir := t.TempDir()
	var onSync atomic.Pointer[func() error]
	l := mustOpen(t, Options{Dir: dir, Fsync: true, wrapFile: func(f *os.File) segmentFile {
		return &faultyFile{File: f, onSync: &onSync}
	}})
	acked := appendN(t, l, 5)

	// Hold the writer in the fsync of one entry while eight more queue behind it, then fail
	// that fsync: the entry in flight fails, and so does every queued one.
	inSync, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	fail := func() error {
		once.Do(func() {
			close(inSync)
			<-release
		})
		return errInjected
	}
	onSync.Store(&fail)

	errs := make(chan error, 9)
	go func() {
		_, err := l.Append([]byte("in flight"))
		errs <- err
	}()
	<-inSync
	for i := range 8 {
		go func() {
			_, err := l.Append(fmt.Appendf(nil, "queued %d", i))
			errs <- err
		}()
	}
	for {
		l.mu.Lock()
		queued := l.queued
		l.mu.Unlock()
		if queued == 8*(frameHeaderSize+len("queued 0")) {
			break
		}
		runtime.Gosched()
	}
	close(release)
	for range 9 {
		if err := <-errs; !errors.Is(err, errInjected) {
			t.Fatalf("append during a failed fsync returned %v", err)
		}
	}
	if _, err := l.Append([]byte("later")); !errors.Is(err, errInjected) {
		t.Fatalf("append after a failed fsync returned %v", err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("close of a broken log returned %v", err)
	}

	l = mustOpen(t, Options{Dir: dir, Fsync: true})
	defer mustClose(t, l)
	got := replayAll(t, l, Pos{})
	if len(got) < len(acked) {
		t.Fatalf("%d entries after reopening, %d were acknowledged", len(got), len(acked))
	}
	checkEntries(t, got[:len(acked)], acked)
}
