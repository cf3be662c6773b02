package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	magic           = "EDDYWAL1"
	formatVersion   = 1
	headerSize      = 12
	frameHeaderSize = 8

	// MaxEntrySize is the largest payload an entry may have.
	MaxEntrySize = 1 << 30

	segmentSuffix = ".wal"
	readBufSize   = 256 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CorruptError reports a segment that does not read as the format says: damage a crash
// cannot explain, which Replay and Open refuse to skip over.
type CorruptError struct {
	File   string // path of the segment file
	Offset int64  // where in the file the bad header or frame starts
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt write-ahead log segment %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

func segmentName(n uint64) string { return fmt.Sprintf("%020d%s", n, segmentSuffix) }

func (l *Log) segmentPath(n uint64) string { return filepath.Join(l.opts.Dir, segmentName(n)) }

// listSegments returns the numbers of the segment files in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list write-ahead log segments in %s: %w", dir, err)
	}
	var segs []uint64
	for _, e := range entries {
		name := e.Name()
		digits, ok := strings.CutSuffix(name, segmentSuffix)
		if !ok || len(digits) != 20 || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	slices.Sort(segs)
	return segs, nil
}

func appendHeader(b []byte) []byte {
	b = append(b, magic...)
	return binary.LittleEndian.AppendUint32(b, formatVersion)
}

// checkHeader reads and checks the header at the start of f. A file too short to hold
// one returns io.ErrUnexpectedEOF, which only the last segment may have (a torn create).
func checkHeader(f *os.File) error {
	var h [headerSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read header of %s: %w", f.Name(), err)
	}
	if string(h[:8]) != magic {
		return &CorruptError{File: f.Name(), Reason: fmt.Sprintf("magic %q, want %q", h[:8], magic)}
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != formatVersion {
		return &CorruptError{File: f.Name(), Reason: fmt.Sprintf("format version %d, this eddy reads %d", v, formatVersion)}
	}
	return nil
}

// appendFrame encodes one frame for payload at the end of b.
func appendFrame(b, payload []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// frameReader reads the frames of one segment between two offsets.
type frameReader struct {
	r   *bufio.Reader
	off int64 // offset of the next frame in the file
	end int64 // no frame may extend past this offset
	hdr [frameHeaderSize]byte
	buf []byte // payloads larger than the read buffer
}

func newFrameReader(f *os.File, from, end int64, r *bufio.Reader) *frameReader {
	r.Reset(io.NewSectionReader(f, from, end-from))
	return &frameReader{r: r, off: from, end: end}
}

// badFrame is why the frame at frameReader.off cannot be read; the caller decides whether
// that is a torn tail or corruption.
type badFrame struct{ reason string }

func (e *badFrame) Error() string { return e.reason }

// next returns the next payload, valid until the following call, or io.EOF when the
// reader is exactly at end, or a *badFrame.
func (fr *frameReader) next() ([]byte, error) {
	if fr.off == fr.end {
		return nil, io.EOF
	}
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &badFrame{fmt.Sprintf("frame header cut short (%d bytes left)", fr.end-fr.off)}
		}
		return nil, err
	}
	n := int64(binary.LittleEndian.Uint32(fr.hdr[:4]))
	sum := binary.LittleEndian.Uint32(fr.hdr[4:])
	if n == 0 {
		return nil, &badFrame{"zero length"}
	}
	if n > MaxEntrySize || n > fr.end-fr.off-frameHeaderSize {
		return nil, &badFrame{fmt.Sprintf("length %d runs past the end (%d bytes left)", n, fr.end-fr.off-frameHeaderSize)}
	}
	var payload []byte
	if n <= int64(fr.r.Size()) {
		p, err := fr.r.Peek(int(n))
		if err != nil {
			return nil, fmt.Errorf("read frame: %w", err)
		}
		payload = p
		_, _ = fr.r.Discard(int(n)) // cannot fail: Peek returned n bytes
	} else {
		if int64(cap(fr.buf)) < n {
			fr.buf = make([]byte, n)
		}
		payload = fr.buf[:n]
		if _, err := io.ReadFull(fr.r, payload); err != nil {
			return nil, fmt.Errorf("read frame: %w", err)
		}
	}
	if got := crc32.Checksum(payload, castagnoli); got != sum {
		return nil, &badFrame{fmt.Sprintf("checksum %08x, frame says %08x", got, sum)}
	}
	fr.off += frameHeaderSize + n
	return payload, nil
}
