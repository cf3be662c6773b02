package streams

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBatchRoundTripAndCorruption(t *testing.T) {
	recs := []Record{
		{PartitionKey: "a", Data: []byte("hello")},
		{PartitionKey: "b", Data: nil, ProducerID: "id-1", EventTime: time.Unix(1700000000, 5).UTC()},
		{PartitionKey: "c", Data: make([]byte, 300)},
	}
	var enc batchEncoder
	enc.reset()
	for i := range recs {
		enc.add(&recs[i])
	}
	msg := append([]byte(nil), enc.finish(42)...)
	hdr, body, err := decodeHeader(msg)
	if err != nil || hdr.baseOffset != 42 || hdr.count != 3 {
		t.Fatalf("header %+v, %v", hdr, err)
	}
	br := batchReader{p: body}
	for i := range recs {
		var r Record
		if err := br.next(&r); err != nil {
			t.Fatal(err)
		}
		if r.PartitionKey != recs[i].PartitionKey || string(r.Data) != string(recs[i].Data) || r.ProducerID != recs[i].ProducerID || !r.EventTime.Equal(recs[i].EventTime) {
			t.Fatalf("record %d: got %+v want %+v", i, r, recs[i])
		}
	}
	// Any flipped byte in the records is caught by the checksum.
	for i := len(msg) - len(body); i < len(msg); i++ {
		bad := append([]byte(nil), msg...)
		bad[i] ^= 0x40
		if _, _, err := decodeHeader(bad); !errors.Is(err, errCorruptBatch) {
			t.Fatalf("flip at %d not detected", i)
		}
	}
}

func TestShardRangesPartitionTheHashSpace(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 1024} {
		var prevEnd uint64
		for i := 0; i < n; i++ {
			start, end := hashRange(i, n)
			if i == 0 && start != 0 || i > 0 && start != prevEnd+1 || start > end {
				t.Fatalf("n=%d shard %d: range %d..%d after %d", n, i, start, end, prevEnd)
			}
			if shardIndex(start, n) != i || shardIndex(end, n) != i {
				t.Fatalf("n=%d shard %d: range ends map to %d and %d", n, i, shardIndex(start, n), shardIndex(end, n))
			}
			prevEnd = end
		}
		if prevEnd != math.MaxUint64 {
			t.Fatalf("n=%d: last shard ends at %d", n, prevEnd)
		}
		for k := 0; k < 1000; k++ {
			h := rand.Uint64()
			i := shardIndex(h, n)
			if s, e := hashRange(i, n); h < s || h > e {
				t.Fatalf("n=%d: hash %d routed to shard %d owning %d..%d", n, h, i, s, e)
			}
		}
	}
}
