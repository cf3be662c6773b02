package nexmarkbench

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/bench/nexmark"
	"github.com/eddy-streams/eddy/internal/natslog"
	"github.com/eddy-streams/eddy/internal/streams"
)

// openService starts an embedded JetStream in a temporary directory with a streams
// service over it.
func openService(t testing.TB) *streams.Service {
	t.Helper()
	log, err := natslog.Open(natslog.Options{Dir: t.TempDir(), Fsync: natslog.FsyncInterval, FsyncInterval: time.Second, MaxStore: 1 << 30, MaxMemory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := streams.Open(log.Conn, streams.Options{})
	if err != nil {
		_ = log.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); _ = log.Close() })
	return svc
}

func streamSource(svc *streams.Service, stream string) source {
	return func(job *flow.Job) (*flow.Stream[nexmark.Event], error) {
		return FromStream(job, svc, stream, 2, bound)
	}
}

// TestQueriesFromStream fills an eddy stream with the JSON form of the events and runs
// every query reading it: q0 and q5 must give exactly the rows of the same query run on
// the generator in memory, and every query the reference answers.
func TestQueriesFromStream(t *testing.T) {
	cfg := testConfigs()["slow-out-of-order"]
	svc := openService(t)
	// Three shards for two source subtasks: one subtask reads two shards.
	pre, err := Fill(context.Background(), svc, "events", 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pre.Events != cfg.MaxEvents || pre.Shards != 3 || pre.Bytes <= 0 {
		t.Fatalf("preload %+v, want %d events in 3 shards", pre, cfg.MaxEvents)
	}
	info, err := svc.Describe(context.Background(), "events")
	if err != nil {
		t.Fatal(err)
	}
	if info.Records != uint64(cfg.MaxEvents) {
		t.Fatalf("stream holds %d records, want %d", info.Records, cfg.MaxEvents)
	}
	for _, sh := range info.Shards {
		if sh.Records == 0 {
			t.Fatalf("shard %s is empty: the preload does not spread over the shards", sh.ID)
		}
	}
	fromStream, inMemory := streamSource(svc, "events"), memorySource(cfg)
	t.Run("q0-same-as-memory", func(t *testing.T) {
		sameRows(t, "q0", run(t, fromStream, Q0), sorted(run(t, inMemory, Q0), nexmark.BidRow.Compare), nexmark.BidRow.Compare)
	})
	t.Run("q5-same-as-memory", func(t *testing.T) {
		sameRows(t, "q5", run(t, fromStream, Q5), sorted(run(t, inMemory, Q5), nexmark.Q5Result.Compare), nexmark.Q5Result.Compare)
	})
	checkAll(t, fromStream, generate(t, cfg))
}

func sorted[R any](rows []R, compare func(a, b R) int) []R {
	slices.SortFunc(rows, compare)
	return rows
}
