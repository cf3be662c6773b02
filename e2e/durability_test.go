package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

// acked is what the server acknowledged for one record.
type acked struct {
	shard string
	seq   uint64
}

// TestKill9LosesNoAcknowledgedRecord writes to a stream from several producers, kills the
// server with SIGKILL mid-stream, restarts it, and does that a few times. At the end every
// acknowledged record must be there exactly once, where the put said, and each shard's
// records in the order their sequence numbers say.
func TestKill9LosesNoAcknowledgedRecord(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	p := startEddy(t, dataDir)
	if _, err := p.client(t).CreateStream(ctx, wire.CreateStreamRequest{Name: "durable", Shards: 4}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	ack := map[string]acked{} // record data -> where it was acknowledged
	const kills = 3
	for round := 0; round < kills; round++ {
		c := p.client(t)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for prod := 0; prod < 4; prod++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					recs := make([]wire.PutRecord, 50)
					for i := range recs {
						id := fmt.Sprintf("r%d-p%d-%d-%d", round, prod, n, i)
						recs[i] = wire.PutRecord{PartitionKey: fmt.Sprintf("key-%d", (n*50+i)%97), Text: id}
					}
					res, err := c.PutRecords(ctx, "durable", recs)
					if err != nil {
						return // the server died under us: these records were never acknowledged
					}
					mu.Lock()
					for i, r := range res.Records {
						if r.ErrorCode != "" {
							continue
						}
						seq, _ := strconv.ParseUint(r.SequenceNumber, 10, 64)
						ack[recs[i].Text] = acked{shard: r.Shard, seq: seq}
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		p.kill9(t)
		close(stop)
		wg.Wait()
		p = startEddy(t, dataDir)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ack) < 1000 {
		t.Fatalf("only %d records acknowledged before the kills: the test proves little", len(ack))
	}

	c := p.client(t)
	desc, err := c.DescribeStream(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]acked{}
	for _, sh := range desc.Shards {
		it, err := c.GetIterator(ctx, "durable", wire.GetIteratorRequest{Shard: sh.ID, Type: wire.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for {
			res, err := c.GetRecords(ctx, "durable", it, 10_000, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Records {
				seq, _ := strconv.ParseUint(r.SequenceNumber, 10, 64)
				if seq <= last {
					t.Fatalf("shard %s: sequence %d after %d", sh.ID, seq, last)
				}
				last = seq
				if prev, dup := seen[string(r.Data)]; dup {
					t.Fatalf("record %s stored twice: %v and %s/%d", r.Data, prev, r.Shard, seq)
				}
				seen[string(r.Data)] = acked{shard: r.Shard, seq: seq}
			}
			if len(res.Records) == 0 {
				break
			}
			it = res.NextIterator
		}
	}
	for data, a := range ack {
		got, ok := seen[data]
		if !ok {
			t.Fatalf("acknowledged record %s (%s/%d) lost after kill -9", data, a.shard, a.seq)
		}
		if got != a {
			t.Fatalf("record %s acknowledged at %s/%d but read at %s/%d", data, a.shard, a.seq, got.shard, got.seq)
		}
	}
	for data := range seen {
		if !strings.HasPrefix(data, "r") {
			t.Fatalf("unexpected record %q", data)
		}
	}
	t.Logf("%d records acknowledged across %d kills, %d stored (unacknowledged ones may or may not be)", len(ack), kills, len(seen))
	if desc.Records != uint64(len(seen)) {
		t.Fatalf("describe counts %d records, reading found %d", desc.Records, len(seen))
	}
}
