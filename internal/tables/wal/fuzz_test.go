package wal

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenRecoversAnyTail writes arbitrary bytes after a segment header and checks that
// Open makes a log of them that replays without error and takes appends: whatever a crash
// left at the end of the last segment, recovery ends at a frame boundary.
func FuzzOpenRecoversAnyTail(f *testing.F) {
	f.Add([]byte{})
	f.Add(appendFrame(nil, []byte("one")))
	f.Add(appendFrame(appendFrame(nil, []byte("one")), []byte("two"))[:20])
	f.Add(make([]byte, 64))
	f.Add([]byte{5, 0, 0, 0, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'})
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		seg := append(appendHeader(nil), tail...)
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer mustClose(t, l)
		got := replayAll(t, l, Pos{})
		pos, err := l.Append([]byte("appended"))
		if err != nil {
			t.Fatal(err)
		}
		// The surviving entries are a prefix of what was there, frame by frame.
		var want []byte
		for _, e := range got {
			want = appendFrame(want, e.payload)
		}
		if !bytes.HasPrefix(tail, want) || pos != (Pos{1, headerSize + int64(len(want))}) {
			t.Fatalf("kept %d entries (%d bytes), appended at %v", len(got), len(want), pos)
		}
		if after := replayAll(t, l, pos); len(after) != 1 || string(after[0].payload) != "appended" {
			t.Fatalf("replay from the appended entry: %v", after)
		}
	})
}
