package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// TestKill9JobIsExactlyOnce runs a keyed running count as a job in the real server,
// feeds it through a stream, kills the server with SIGKILL at random moments while
// records flow, and restarts it each time: the job resumes from its latest checkpoint.
// At the end the output stream must hold, for every key, the counts 1..n exactly once:
// no duplicate, no gap.
func TestKill9JobIsExactlyOnce(t *testing.T) {
	const keys, total, kills = 20, 8000, 4
	dataDir := t.TempDir()
	args := []string{"--checkpoint-interval", "150ms"}
	p := startEddy(t, dataDir, args...)
	ctx := context.Background()
	c := p.client(t)
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "clicks", Shards: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartJob(ctx, wire.StartJobRequest{Name: "counter", Builtin: "running-count", Args: map[string]string{"from": "clicks", "to": "counts"}}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	current := c
	clientNow := func() *client.Client { mu.Lock(); defer mu.Unlock(); return current }

	// The producer retries a failed batch with the same producer record ids, so a put
	// the server stored just before it died is not stored twice.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < total; i += 100 {
			var recs []wire.PutRecord
			for j := i; j < i+100; j++ {
				recs = append(recs, wire.PutRecord{PartitionKey: fmt.Sprintf("k%02d", j%keys), Text: "click", ProducerID: fmt.Sprintf("click-%d", j)})
			}
			for {
				res, err := clientNow().PutRecords(ctx, "clicks", recs)
				if err == nil && res.FailedCount == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		p.kill9(t)
		p = startEddy(t, dataDir, args...)
		mu.Lock()
		current = p.client(t)
		mu.Unlock()
	}
	<-produced

	// Wait until the last checkpoint has committed everything.
	c = clientNow()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := c.DescribeStream(ctx, "counts")
		if err == nil && d.Records >= total {
			time.Sleep(500 * time.Millisecond) // duplicates, if any, would land now
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("output has %d of %d records after 60s:\n%s", d.Records, total, p.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	perKey := map[string][]int{}
	it, err := c.GetIterator(ctx, "counts", wire.GetIteratorRequest{Type: wire.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	for {
		res, err := c.GetRecords(ctx, "counts", it, 10_000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Records) == 0 {
			break
		}
		for _, r := range res.Records {
			key, n, _ := strings.Cut(string(r.Data), " ")
			v, _ := strconv.Atoi(n)
			perKey[key] = append(perKey[key], v)
		}
		it = res.NextIterator
	}
	if len(perKey) != keys {
		t.Fatalf("%d keys in the output, want %d", len(perKey), keys)
	}
	for key, counts := range perKey {
		slices.Sort(counts)
		for i, n := range counts {
			if n != i+1 {
				t.Fatalf("key %s: counts %v... — a duplicate or a gap at position %d (got %d)", key, counts[:min(len(counts), 10)], i, n)
			}
		}
		if len(counts) != total/keys {
			t.Fatalf("key %s: %d counts, want %d", key, len(counts), total/keys)
		}
	}
}
