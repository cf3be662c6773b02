package streams

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/natslog"
)

// newTestService starts an embedded JetStream in a temp dir and a service over it.
func newTestService(t *testing.T, opts Options) *Service {
	t.Helper()
	log, err := natslog.Open(natslog.Options{Dir: t.TempDir(), Fsync: natslog.FsyncInterval, FsyncInterval: time.Second, MaxStore: 1 << 30, MaxMemory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(log.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		_ = log.Close()
	})
	return svc
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apierr.CodeOf(err); got != code {
		t.Fatalf("want error code %s, got %v", code, err)
	}
}

func TestPutReadRoundTrip(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	if _, err := svc.Create(ctx, "orders", Config{Shards: 4}); err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for i := 0; i < 500; i++ {
		recs = append(recs, Record{PartitionKey: fmt.Sprintf("k%d", i%37), Data: []byte(fmt.Sprintf("v%d", i)), EventTime: time.Unix(int64(i), 0).UTC()})
	}
	res, err := svc.Put(ctx, "orders", recs)
	if err != nil {
		t.Fatal(err)
	}
	if Failed(res) != 0 {
		t.Fatalf("failed: %+v", res)
	}
	info, err := svc.Describe(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if info.Records != 500 || len(info.Shards) != 4 {
		t.Fatalf("describe: %d records, %d shards", info.Records, len(info.Shards))
	}
	// Each shard returns its keys' records in put order.
	got := 0
	for _, sh := range info.Shards {
		it, err := svc.NewIterator(ctx, "orders", sh.ID, Start{Kind: TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		lastPerKey := map[string]int{}
		for {
			batch, _, err := it.Next(ctx, 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) == 0 {
				break
			}
			for _, r := range batch {
				if r.Shard != sh.ID {
					t.Fatalf("record of shard %s read from %s", r.Shard, sh.ID)
				}
				var i int
				fmt.Sscanf(string(r.Data), "v%d", &i)
				if prev, ok := lastPerKey[r.PartitionKey]; ok && prev >= i {
					t.Fatalf("key %s out of order: %d after %d", r.PartitionKey, i, prev)
				}
				lastPerKey[r.PartitionKey] = i
				if !r.EventTime.Equal(time.Unix(int64(i), 0)) {
					t.Fatalf("event time %v for record %d", r.EventTime, i)
				}
				if res[i].Sequence != r.Sequence || res[i].Shard != r.Shard {
					t.Fatalf("record %d read at %s/%s, put reported %s/%s", i, r.Shard, r.Sequence, res[i].Shard, res[i].Sequence)
				}
				got++
			}
		}
	}
	if got != 500 {
		t.Fatalf("read %d records, want 500", got)
	}
}

func TestProducerIDDedupe(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	if _, err := svc.Create(ctx, "pay", Config{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	first, err := svc.Put(ctx, "pay", []Record{{PartitionKey: "a", Data: []byte("1"), ProducerID: "p1"}, {PartitionKey: "b", Data: []byte("2"), ProducerID: "p2"}})
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Put(ctx, "pay", []Record{{PartitionKey: "a", Data: []byte("1"), ProducerID: "p1"}, {PartitionKey: "c", Data: []byte("3"), ProducerID: "p3"}, {PartitionKey: "c", Data: []byte("3"), ProducerID: "p3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !again[0].Duplicate || again[0].Sequence != first[0].Sequence {
		t.Fatalf("repeat not reported as duplicate of the first: %+v vs %+v", again[0], first[0])
	}
	if again[1].Duplicate || !again[2].Duplicate || again[2].Sequence != again[1].Sequence {
		t.Fatalf("repeat inside one put: %+v", again)
	}
	info, _ := svc.Describe(ctx, "pay")
	if info.Records != 3 {
		t.Fatalf("stored %d records, want 3", info.Records)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	_, err := svc.Create(ctx, "bad.name", Config{})
	wantCode(t, err, "InvalidStreamName")
	_, err = svc.Create(ctx, "s", Config{Shards: 1025})
	wantCode(t, err, "InvalidShardCount")
	_, err = svc.Create(ctx, "s", Config{Retention: time.Hour})
	wantCode(t, err, "InvalidRetention")
	_, err = svc.Put(ctx, "missing", []Record{{PartitionKey: "k"}})
	wantCode(t, err, "StreamNotFound")
	if _, err := svc.Create(ctx, "s", Config{}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Create(ctx, "s", Config{})
	wantCode(t, err, "StreamExists")
	_, err = svc.Put(ctx, "s", []Record{{PartitionKey: "k"}, {PartitionKey: "k", Data: make([]byte, MaxRecordBytes+1)}})
	wantCode(t, err, "RecordTooLarge")
	if e, _ := apierr.As(err); e == nil || e.Message[:8] != "record 1" {
		t.Fatalf("error should name the record: %v", err)
	}
	_, err = svc.Put(ctx, "s", make([]Record, 501))
	wantCode(t, err, "TooManyRecords")
	_, err = svc.Put(ctx, "s", []Record{{PartitionKey: ""}})
	wantCode(t, err, "InvalidPartitionKey")
	info, _ := svc.Describe(ctx, "s")
	if info.Records != 0 {
		t.Fatalf("a rejected put stored %d records", info.Records)
	}
	_, err = svc.Cursor(ctx, "s", "shard-0009", Start{})
	wantCode(t, err, "ShardNotFound")
}

func TestIteratorStarts(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	if _, err := svc.Create(ctx, "s", Config{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	put := func(v string) PutResult {
		res, err := svc.Put(ctx, "s", []Record{{PartitionKey: "k", Data: []byte(v)}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		return res[0]
	}
	a := put("a")
	b := put("b")
	mid := time.Now()
	time.Sleep(5 * time.Millisecond)
	put("c")
	readAll := func(start Start) string {
		it, err := svc.NewIterator(ctx, "s", "shard-0000", start)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := it.Next(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, r := range recs {
			s += string(r.Data)
		}
		return s
	}
	for _, tc := range []struct {
		start Start
		want  string
	}{
		{Start{Kind: TrimHorizon}, "abc"},
		{Start{Kind: Latest}, ""},
		{Start{Kind: AtSequence, Sequence: b.Sequence}, "bc"},
		{Start{Kind: AfterSequence, Sequence: a.Sequence}, "bc"},
		{Start{Kind: AtTimestamp, Timestamp: mid}, "c"},
	} {
		if got := readAll(tc.start); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.start.Kind, got, tc.want)
		}
	}
	// A long poll returns as soon as a record arrives.
	it, _ := svc.NewIterator(ctx, "s", "", Start{Kind: Latest})
	go func() { time.Sleep(50 * time.Millisecond); put("d") }()
	recs, _, err := it.Next(ctx, 10, 10*time.Second)
	if err != nil || len(recs) != 1 || string(recs[0].Data) != "d" {
		t.Fatalf("long poll: %v %v", recs, err)
	}
}

func TestRetentionExpiresRecords(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{MinRetention: time.Second})
	if _, err := svc.Create(ctx, "short", Config{Shards: 1, Retention: time.Second}); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Put(ctx, "short", []Record{{PartitionKey: "k", Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := svc.Describe(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if info.Records == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record still retained after 10s with 1s retention")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = svc.Cursor(ctx, "short", "shard-0000", Start{Kind: AtSequence, Sequence: res[0].Sequence})
	wantCode(t, err, "SequenceTrimmed")
}

func TestReshardKeepsKeyOrder(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	if _, err := svc.Create(ctx, "r", Config{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	put := func(from int) {
		var recs []Record
		for i := from; i < from+100; i++ {
			recs = append(recs, Record{PartitionKey: fmt.Sprintf("k%d", i%10), Data: []byte(fmt.Sprint(i))})
		}
		if res, err := svc.Put(ctx, "r", recs); err != nil || Failed(res) > 0 {
			t.Fatal(err, res)
		}
	}
	put(0)
	info, err := svc.UpdateShardCount(ctx, "r", 3)
	if err != nil {
		t.Fatal(err)
	}
	put(100)
	if info.OpenShards != 3 || len(info.Shards) != 5 {
		t.Fatalf("after reshard: %d open, %d total", info.OpenShards, len(info.Shards))
	}
	info, _ = svc.Describe(ctx, "r")
	if info.Records != 200 {
		t.Fatalf("records %d, want 200", info.Records)
	}
	for _, sh := range info.Shards[2:] {
		if len(sh.Parents) == 0 {
			t.Fatalf("child shard %s has no parents", sh.ID)
		}
	}
	// A closed shard ends after its records.
	it, _ := svc.NewIterator(ctx, "r", "shard-0000", Start{Kind: TrimHorizon})
	n := 0
	for {
		recs, ended, err := it.Next(ctx, 1000, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		n += len(recs)
		if ended {
			break
		}
	}
	if n == 0 || n >= 100 {
		t.Fatalf("closed shard held %d records", n)
	}
	// Reading the whole stream in stored order keeps every key's order.
	it, _ = svc.NewIterator(ctx, "r", "", Start{Kind: TrimHorizon})
	recs, _, _ := it.Next(ctx, 1000, 0)
	last := map[string]int{}
	for _, r := range recs {
		var i int
		fmt.Sscan(string(r.Data), &i)
		if p, ok := last[r.PartitionKey]; ok && p > i {
			t.Fatalf("key %s: %d after %d", r.PartitionKey, i, p)
		}
		last[r.PartitionKey] = i
	}
	if len(recs) != 200 {
		t.Fatalf("read %d", len(recs))
	}
}

func TestStoreFullRefusesWritesKeepsReads(t *testing.T) {
	ctx := context.Background()
	log, err := natslog.Open(natslog.Options{Dir: t.TempDir(), Fsync: natslog.FsyncAlways, MaxStore: 4 << 20, MaxMemory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := Open(log.Conn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); _ = log.Close() })
	if _, err := svc.Create(ctx, "full", Config{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 256<<10)
	stored := 0
	var full *apierr.Error
	for i := 0; i < 64 && full == nil; i++ {
		res, err := svc.Put(ctx, "full", []Record{{PartitionKey: "k", Data: data}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err != nil {
			full = res[0].Err
			break
		}
		stored++
	}
	if full == nil || full.Code != "StoreFull" {
		t.Fatalf("writes past the 4 MiB store limit: want StoreFull, got %v after %d records", full, stored)
	}
	it, err := svc.NewIterator(ctx, "full", "shard-0000", Start{Kind: TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		recs, _, err := it.Next(ctx, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		n += len(recs)
	}
	if n != stored {
		t.Fatalf("read back %d records of %d stored", n, stored)
	}
}

func TestDedupeSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() (*Service, func()) {
		log, err := natslog.Open(natslog.Options{Dir: dir, Fsync: natslog.FsyncAlways, MaxStore: 1 << 30, MaxMemory: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := Open(log.Conn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return svc, func() { svc.Close(); _ = log.Close() }
	}
	svc, closeFn := open()
	if _, err := svc.Create(ctx, "d", Config{Shards: 3}); err != nil {
		t.Fatal(err)
	}
	first, err := svc.Put(ctx, "d", []Record{{PartitionKey: "k1", ProducerID: "a"}, {PartitionKey: "k2", ProducerID: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	closeFn()
	svc, closeFn = open()
	defer closeFn()
	again, err := svc.Put(ctx, "d", []Record{{PartitionKey: "k1", ProducerID: "a"}, {PartitionKey: "k2", ProducerID: "b"}, {PartitionKey: "k3", ProducerID: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if !again[i].Duplicate || again[i].Sequence != first[i].Sequence {
			t.Fatalf("after restart record %d: %+v, first stored as %+v", i, again[i], first[i])
		}
	}
	if again[2].Duplicate {
		t.Fatal("new id reported as duplicate")
	}
	info, _ := svc.Describe(ctx, "d")
	if info.Records != 3 {
		t.Fatalf("records %d want 3", info.Records)
	}
}

func TestConcurrentPutsGroupCommit(t *testing.T) {
	ctx := context.Background()
	svc := newTestService(t, Options{})
	if _, err := svc.Create(ctx, "c", Config{Shards: 2}); err != nil {
		t.Fatal(err)
	}
	const producers, puts, per = 8, 20, 50
	seqs := make(chan PutResult, producers*puts*per)
	errs := make(chan error, producers)
	for p := 0; p < producers; p++ {
		go func() {
			for j := 0; j < puts; j++ {
				recs := make([]Record, per)
				for i := range recs {
					recs[i] = Record{PartitionKey: fmt.Sprintf("p%d-%d", p, i), Data: []byte("x")}
				}
				res, err := svc.Put(ctx, "c", recs)
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					seqs <- r
				}
			}
			errs <- nil
		}()
	}
	for p := 0; p < producers; p++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(seqs)
	seen := map[string]bool{}
	for r := range seqs {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		k := r.Shard + "/" + r.Sequence.String()
		if seen[k] {
			t.Fatalf("sequence %s given twice", k)
		}
		seen[k] = true
	}
	info, _ := svc.Describe(ctx, "c")
	if info.Records != producers*puts*per {
		t.Fatalf("records %d want %d", info.Records, producers*puts*per)
	}
}
