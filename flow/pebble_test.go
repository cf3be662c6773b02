package flow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// putCounter is a checkpoint store that counts the writes of each key.
type putCounter struct {
	*flow.MemStore
	mu   sync.Mutex
	puts map[string]int
}

func (s *putCounter) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	s.puts[key]++
	s.mu.Unlock()
	return s.MemStore.Put(ctx, key, data)
}

// sharedPuts returns the shared-area keys written since the last call, with their bytes.
func (s *putCounter) sharedPuts(t *testing.T, seen map[string]int) (keys []string, bytes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.puts {
		if strings.Contains(k, "/shared/") && n != seen[k] {
			if n > 1 {
				t.Errorf("shared file %s uploaded %d times", k, n)
			}
			seen[k] = n
			data, _ := s.MemStore.Get(context.Background(), k)
			keys = append(keys, k)
			bytes += len(data)
		}
	}
	return keys, bytes
}

// kv is a record of the incremental test: write Key with Version, or read it.
type kv struct {
	Key, Version int
	Read         bool
}

// feed is a source emitting what the test sends it; it polls while it waits, so
// checkpoints go through.
type feed chan kv

func (f feed) Run(ctx context.Context, _, _ int, out flow.SourceOutput[kv]) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-f:
			out.Emit(r, flow.NoTimestamp)
		case <-tick.C:
			out.Poll()
		}
	}
}

// versionedJob keeps a 100-byte value per key that names the key's version, and emits
// "key=version" for each read.
func versionedJob(opts flow.JobOptions, in feed, processed *atomic.Int64, reads chan<- string) *flow.Job {
	job := flow.NewJob("versions", opts)
	src := flow.FromSource(job, "feed", 1, in)
	keyed := flow.KeyBy(src, func(r kv) int { return r.Key })
	out := flow.Process(keyed, "store", func(rt *flow.Runtime[int]) flow.KeyedProcessor[int, kv, string] {
		value := flow.NewValueState[[]byte](rt, "value")
		return flow.KeyedProcessor[int, kv, string]{Element: func(ctx *flow.ProcessContext[int, string], r kv) {
			if r.Read {
				v, _ := value.Value()
				ctx.Emit(fmt.Sprintf("%d=%s", r.Key, strings.TrimSpace(string(v))))
			} else {
				value.Update([]byte(fmt.Sprintf("%-100s", fmt.Sprint(r.Version))[:100]))
			}
			processed.Add(1)
		}}
	})
	flow.Sink(out, "reads", func(s string, _ int64) error { reads <- s; return nil })
	return job
}

// sharedKeys reads the shared files checkpoint id of job versions refers to.
func sharedKeys(t *testing.T, store flow.CheckpointStore, id int64) map[string]bool {
	raw, err := store.Get(context.Background(), fmt.Sprintf("versions/chk-%020d/_metadata", id))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Operators []struct {
			Files []struct {
				Shared []struct{ Key string }
			}
		}
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, op := range meta.Operators {
		for _, f := range op.Files {
			for _, sf := range f.Shared {
				keys[sf.Key] = true
			}
		}
	}
	return keys
}

// TestPebbleCheckpointsAreIncremental changes 1% of the keys of a Pebble state between
// two checkpoints: the second uploads only the SST files written since the first and
// refers to the others, pruning the first keeps the files the second shares with it,
// and a new run restores the state from both checkpoints' files (as Flink's incremental
// RocksDB checkpoints do).
func TestPebbleCheckpointsAreIncremental(t *testing.T) {
	const keys = 40_000
	ctx := context.Background()
	store := &putCounter{MemStore: flow.NewMemStore(), puts: map[string]int{}}
	opts := flow.JobOptions{Parallelism: 2, BufferTimeout: time.Millisecond, StateBackend: flow.PebbleBackend(t.TempDir()),
		Checkpoints: &flow.CheckpointOptions{Store: store, Interval: time.Hour, Retained: 1}}
	in := make(feed)
	var processed atomic.Int64
	reads := make(chan string, keys)
	job := versionedJob(opts, in, &processed, reads)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- flow.Run(runCtx, job) }()
	send := func(records ...kv) {
		want := processed.Load() + int64(len(records))
		for _, r := range records {
			in <- r
		}
		for processed.Load() < want {
			time.Sleep(time.Millisecond)
		}
	}
	var fill []kv
	for k := range keys {
		fill = append(fill, kv{Key: k, Version: 1})
	}
	send(fill...)

	// Checkpoints until one uploads nothing: the fill's flushes and compactions are
	// done, and the files of the state are in the shared area.
	seen := map[string]int{}
	var settled int64
	for range 20 {
		id, err := job.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if uploaded, _ := store.sharedPuts(t, seen); len(uploaded) == 0 {
			settled = id
			break
		}
	}
	if settled == 0 {
		t.Fatal("every checkpoint uploaded files: the state never settled")
	}
	var onDisk int64
	for _, op := range job.Status().Operators {
		for _, sub := range op.Subtasks {
			onDisk += sub.StateBytes
		}
	}
	if onDisk == 0 {
		t.Error("the job's status shows no Pebble state on disk")
	}
	before := sharedKeys(t, store, settled)
	full := job.Checkpoints()[len(job.Checkpoints())-1].FullBytes

	var change []kv
	for k := 0; k < keys; k += 100 {
		change = append(change, kv{Key: k, Version: 2})
	}
	send(change...)
	id, err := job.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uploaded, uploadedBytes := store.sharedPuts(t, seen)
	after := sharedKeys(t, store, id)
	reused := 0
	for k := range after {
		if before[k] {
			reused++
		}
	}
	if len(uploaded) == 0 || reused == 0 {
		t.Fatalf("the checkpoint after changing 1%% of the keys uploaded %d files and reused %d", len(uploaded), reused)
	}
	if uploadedBytes*4 > full {
		t.Fatalf("the checkpoint after changing 1%% of the keys uploaded %d bytes of a %d-byte state", uploadedBytes, full)
	}
	st := job.Checkpoints()[len(job.Checkpoints())-1]
	if st.Bytes >= st.FullBytes || st.Bytes < uploadedBytes {
		t.Fatalf("checkpoint status: %d bytes written, %d held; %d uploaded", st.Bytes, st.FullBytes, uploadedBytes)
	}

	// Retained 1: the settled checkpoint is pruned, the files the new one shares with
	// it are not, the others are.
	if _, err := store.Get(ctx, fmt.Sprintf("versions/chk-%020d/_metadata", settled)); err == nil {
		t.Fatalf("checkpoint %d was not pruned", settled)
	}
	left, _ := store.List(ctx, "versions/shared/")
	if len(left) != len(after) {
		t.Fatalf("%d shared files left after pruning, the newest checkpoint refers to %d", len(left), len(after))
	}
	for _, k := range left {
		if !after[k] {
			t.Fatalf("shared file %s is referred to by no retained checkpoint but was kept", k)
		}
	}
	stop()
	<-done

	// A new run restores the newest checkpoint, at another parallelism too.
	for _, parallelism := range []int{2, 3} {
		opts.Parallelism = parallelism
		in = make(feed)
		processed.Store(0)
		job = versionedJob(opts, in, &processed, reads)
		runCtx, stop = context.WithCancel(ctx)
		go func() { done <- flow.Run(runCtx, job) }()
		var probes []kv
		for k := range keys {
			probes = append(probes, kv{Key: k, Read: true})
		}
		send(probes...)
		stop()
		if err := <-done; err != nil && err != context.Canceled && !strings.Contains(err.Error(), "context canceled") {
			t.Fatal(err)
		}
		wrong := 0
		for range keys {
			r := <-reads
			var k, v int
			fmt.Sscanf(r, "%d=%d", &k, &v)
			if want := 1 + btoi(k%100 == 0); v != want {
				wrong++
			}
		}
		if wrong > 0 {
			t.Fatalf("restored at parallelism %d: %d of %d keys have the wrong version", parallelism, wrong, keys)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
