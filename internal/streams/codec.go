package streams

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
	"unsafe"
)

// Batch format version 1 (documented byte by byte in docs/formats.md):
//
//	byte    version (1)
//	uvarint base offset: records stored in this shard before this batch
//	uvarint record count
//	uint32  CRC-32C (Castagnoli, little endian) of the record section that follows
//	records, each:
//	  byte    flags: bit 0 event time present, bit 1 producer record id present
//	  uvarint partition key length, key bytes
//	  [uvarint producer record id length, id bytes]
//	  [varint  event time, Unix nanoseconds]
//	  uvarint data length, data bytes
const batchVersion = 1

const (
	flagEventTime = 1 << 0
	flagID        = 1 << 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeaderMax is the most bytes the fixed part of a batch can take.
const batchHeaderMax = 1 + binary.MaxVarintLen64*2 + 4

// recordOverheadMax is the most framing bytes one record adds besides key, id and data.
const recordOverheadMax = 1 + 3*binary.MaxVarintLen32 + binary.MaxVarintLen64

// encodedSize is the most bytes r takes in a batch.
func encodedSize(r *Record) int {
	return recordOverheadMax + len(r.PartitionKey) + len(r.ProducerID) + len(r.Data)
}

// batchEncoder builds one batch message in a reused buffer.
type batchEncoder struct {
	buf   []byte
	count int
}

func (e *batchEncoder) reset() {
	e.buf = append(e.buf[:0], make([]byte, batchHeaderMax)...)
	e.count = 0
}

func (e *batchEncoder) add(r *Record) {
	var flags byte
	if !r.EventTime.IsZero() {
		flags |= flagEventTime
	}
	if r.ProducerID != "" {
		flags |= flagID
	}
	b := append(e.buf, flags)
	b = binary.AppendUvarint(b, uint64(len(r.PartitionKey)))
	b = append(b, r.PartitionKey...)
	if flags&flagID != 0 {
		b = binary.AppendUvarint(b, uint64(len(r.ProducerID)))
		b = append(b, r.ProducerID...)
	}
	if flags&flagEventTime != 0 {
		b = binary.AppendVarint(b, r.EventTime.UnixNano())
	}
	b = binary.AppendUvarint(b, uint64(len(r.Data)))
	e.buf = append(b, r.Data...)
	e.count++
}

// finish writes the header in front of the records and returns the message body. The
// header is built at the end of the reserved space so the records need not move.
func (e *batchEncoder) finish(baseOffset uint64) []byte {
	body := e.buf[batchHeaderMax:]
	var hdr [batchHeaderMax]byte
	h := append(hdr[:0], batchVersion)
	h = binary.AppendUvarint(h, baseOffset)
	h = binary.AppendUvarint(h, uint64(e.count))
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(body, castagnoli))
	start := batchHeaderMax - len(h)
	copy(e.buf[start:], h)
	return e.buf[start:]
}

// batchHeader is the fixed part of a decoded batch.
type batchHeader struct {
	baseOffset uint64
	count      int
}

var errCorruptBatch = errors.New("corrupt record batch")

// decodeHeader reads a batch's header and checks its CRC, returning the record section.
func decodeHeader(msg []byte) (batchHeader, []byte, error) {
	if len(msg) < 1 || msg[0] != batchVersion {
		if len(msg) == 0 {
			return batchHeader{}, nil, fmt.Errorf("%w: empty message", errCorruptBatch)
		}
		return batchHeader{}, nil, fmt.Errorf("%w: unknown version %d", errCorruptBatch, msg[0])
	}
	p := msg[1:]
	base, n := binary.Uvarint(p)
	if n <= 0 {
		return batchHeader{}, nil, fmt.Errorf("%w: bad base offset", errCorruptBatch)
	}
	p = p[n:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > maxRecordsPerMessage {
		return batchHeader{}, nil, fmt.Errorf("%w: bad record count", errCorruptBatch)
	}
	p = p[n:]
	if len(p) < 4 {
		return batchHeader{}, nil, fmt.Errorf("%w: truncated header", errCorruptBatch)
	}
	sum := binary.LittleEndian.Uint32(p)
	p = p[4:]
	if crc32.Checksum(p, castagnoli) != sum {
		return batchHeader{}, nil, fmt.Errorf("%w: checksum mismatch", errCorruptBatch)
	}
	return batchHeader{baseOffset: base, count: int(count)}, p, nil
}

// batchReader walks the records of one batch. The strings and byte slices of the records
// it yields alias the message, which is never modified after it is received, so decoding
// allocates nothing per record.
type batchReader struct {
	p []byte
}

func (br *batchReader) next(r *Record) error {
	p := br.p
	if len(p) < 1 {
		return fmt.Errorf("%w: truncated record", errCorruptBatch)
	}
	flags := p[0]
	p = p[1:]
	var ok bool
	var key []byte
	if key, p, ok = readBytes(p); !ok {
		return fmt.Errorf("%w: bad partition key", errCorruptBatch)
	}
	r.PartitionKey = aliasString(key)
	r.ProducerID = ""
	if flags&flagID != 0 {
		var id []byte
		if id, p, ok = readBytes(p); !ok {
			return fmt.Errorf("%w: bad producer record id", errCorruptBatch)
		}
		r.ProducerID = aliasString(id)
	}
	r.EventTime = time.Time{}
	if flags&flagEventTime != 0 {
		ns, n := binary.Varint(p)
		if n <= 0 {
			return fmt.Errorf("%w: bad event time", errCorruptBatch)
		}
		r.EventTime = time.Unix(0, ns).UTC()
		p = p[n:]
	}
	if r.Data, p, ok = readBytes(p); !ok {
		return fmt.Errorf("%w: bad data", errCorruptBatch)
	}
	br.p = p
	return nil
}

func readBytes(p []byte) (field, rest []byte, ok bool) {
	n, w := binary.Uvarint(p)
	if w <= 0 || n > uint64(len(p)-w) {
		return nil, nil, false
	}
	end := w + int(n)
	return p[w:end:end], p[end:], true
}

// aliasString views b as a string without copying; b must never change afterwards.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
