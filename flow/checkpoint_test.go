package flow_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/flow/flowtest"
)

// txnStore is the outside world of a transactional sink: committed transactions by id.
type txnStore struct {
	mu        sync.Mutex
	committed map[string][]string
}

func (s *txnStore) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, recs := range s.committed {
		out = append(out, recs...)
	}
	slices.Sort(out)
	return out
}

// upserted is the output as an idempotent-upsert sink would hold it: each distinct
// record once.
func (s *txnStore) upserted() []string { return slices.Compact(s.all()) }

type txn struct {
	ID      string
	Records []string
}

// txnWriter stages records in the transaction it pre-commits; Commit publishes them
// under the transaction's id, so a repeated commit changes nothing.
type txnWriter struct {
	store   *txnStore
	sink    string
	subtask int
	buf     []string
}

func (w *txnWriter) Write(v string, _ int64) error { w.buf = append(w.buf, v); return nil }
func (w *txnWriter) Flush() error                  { return nil }
func (w *txnWriter) Close() error                  { return nil }
func (w *txnWriter) PreCommit(id int64) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(txn{ID: fmt.Sprintf("%s/%d/%d", w.sink, w.subtask, id), Records: w.buf})
	w.buf = nil
	return b.Bytes(), err
}
func (w *txnWriter) Commit(data []byte) error {
	var t txn
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&t); err != nil {
		return err
	}
	w.store.mu.Lock()
	w.store.committed[t.ID] = t.Records
	w.store.mu.Unlock()
	return nil
}

// countingJob sums values per key (a running aggregate) and counts records per key in
// tumbling windows; every record of a key comes from one source subtask, so the output
// is the same in every run.
func countingJob(store *txnStore, opts flow.JobOptions, events int, slow bool) *flow.Job {
	job := flow.NewJob("exactly-once", opts)
	src := flow.FromGenerator(job, "gen", 2, func(sub, par int) func(*event) bool {
		i := 0
		return func(e *event) bool {
			if i == events {
				return false
			}
			if slow && i%200 == 0 {
				time.Sleep(time.Millisecond)
			}
			*e = event{Key: fmt.Sprintf("s%d-k%d", sub, i%7), Value: i, Time: int64(i)}
			i++
			return true
		}
	}, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.BoundedOutOfOrderness(5 * time.Millisecond)})
	keyed := flow.KeyBy(src, func(e event) string { return e.Key })
	sums := flow.Process(keyed, "running-sum", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, string] {
		sum := flow.NewValueState[int](rt, "sum")
		return flow.KeyedProcessor[string, event, string]{Element: func(ctx *flow.ProcessContext[string, string], e event) {
			s, _ := sum.Value()
			s += e.Value
			sum.Update(s)
			ctx.Emit(fmt.Sprintf("sum %s %d", e.Key, s))
		}}
	})
	counts := flow.WindowAggregate(keyed, "window-count", flow.Tumbling(100*time.Millisecond), flow.Count[event]())
	text := flow.Map(counts, "format", func(w flow.WindowResult[string, int64]) string {
		return fmt.Sprintf("count %s %d %d", w.Key, w.Window.Start, w.Value)
	})
	open := func(name string) func(sub, _ int) (flow.Writer[string], error) {
		return func(sub, _ int) (flow.Writer[string], error) {
			return &txnWriter{store: store, sink: name, subtask: sub}, nil
		}
	}
	flow.SinkTo(sums, "sums", open("sums"))
	flow.SinkTo(text, "counts", open("counts"))
	return job
}

// forEachBackend runs one test body against every state backend, as nats-server's
// testAllStoreAllPermutations runs its tests against every store.
func forEachBackend(t *testing.T, test func(t *testing.T, backend flow.StateBackend)) {
	for _, name := range []string{"heap", "pebble"} {
		t.Run(name, func(t *testing.T) {
			backend, err := flow.ParseStateBackend(name, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			test(t, backend)
		})
	}
}

func TestCheckpointRestoreIsExactlyOnce(t *testing.T) {
	forEachBackend(t, testCheckpointRestoreIsExactlyOnce)
}

func testCheckpointRestoreIsExactlyOnce(t *testing.T, backend flow.StateBackend) {
	const events = 20_000
	reference := referenceRun(t, backend, events)
	want := reference.all()
	if len(want) < events {
		t.Fatalf("reference run committed %d records", len(want))
	}

	for _, restartParallelism := range []int{2, 3} {
		t.Run(fmt.Sprintf("restart-at-parallelism-%d", restartParallelism), func(t *testing.T) {
			out := &txnStore{committed: map[string][]string{}}
			cps := flow.NewMemStore()
			opts := flow.JobOptions{Parallelism: 2, StateBackend: backend, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
			job := countingJob(out, opts, events, true)
			ctx, crash := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- flow.Run(ctx, job) }()
			for len(job.Checkpoints()) < 3 {
				select {
				case err := <-done:
					t.Fatalf("job ended before three checkpoints: %v", err)
				case <-time.After(time.Millisecond):
				}
			}
			crash() // the process dies: uncommitted output and in-memory state are gone
			<-done
			if got := len(out.all()); got >= len(want) {
				t.Fatalf("the crash came too late to prove anything (%d of %d committed)", got, len(want))
			}
			opts.Parallelism = restartParallelism
			if err := flow.Run(context.Background(), countingJob(out, opts, events, false)); err != nil {
				t.Fatal(err)
			}
			got := out.all()
			if !slices.Equal(got, want) {
				t.Fatalf("after crash and restore: %d records, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

func TestCorruptCheckpointFallsBackToThePreviousOne(t *testing.T) {
	forEachBackend(t, testCorruptCheckpointFallsBackToThePreviousOne)
}

func testCorruptCheckpointFallsBackToThePreviousOne(t *testing.T, backend flow.StateBackend) {
	const events = 20_000
	reference := referenceRun(t, backend, events)
	out := &txnStore{committed: map[string][]string{}}
	cps := flow.NewMemStore()
	opts := flow.JobOptions{Parallelism: 2, StateBackend: backend, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond, Retained: 5}}
	job := countingJob(out, opts, events, true)
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	for len(job.Checkpoints()) < 3 {
		time.Sleep(time.Millisecond)
	}
	crash()
	<-done
	keys, _ := cps.List(context.Background(), "exactly-once/chk-")
	// Damage one file of the newest checkpoint: it must be skipped.
	var newest string
	for _, k := range keys {
		if !bytes.HasSuffix([]byte(k), []byte("_metadata")) {
			newest = k
		}
	}
	cps.Corrupt(newest)
	if err := flow.Run(context.Background(), countingJob(out, opts, events, false)); err != nil {
		t.Fatal(err)
	}
	// Falling back past a checkpoint whose transactions were already committed replays
	// them again: only a sink that is idempotent by record (as the tables sink is) stays
	// exactly-once then. Compare what such a sink holds.
	if got, want := out.upserted(), reference.upserted(); !slices.Equal(got, want) {
		t.Fatalf("after restoring the previous checkpoint: %d records, want %d", len(got), len(want))
	}
}

// TestCorruptSharedPebbleFileFallsBackToThePreviousCheckpoint damages a shared Pebble
// file that only the newest checkpoint refers to: the restore must take the checkpoint
// before it instead of failing.
func TestCorruptSharedPebbleFileFallsBackToThePreviousCheckpoint(t *testing.T) {
	const events = 20_000
	ctx := context.Background()
	backend := flow.PebbleBackend(t.TempDir())
	reference := referenceRun(t, backend, events)
	out := &txnStore{committed: map[string][]string{}}
	cps := flow.NewMemStore()
	opts := flow.JobOptions{Parallelism: 2, StateBackend: backend, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond, Retained: 5}}
	job := countingJob(out, opts, events, true)
	runCtx, crash := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- flow.Run(runCtx, job) }()
	// Run until the newest checkpoint has a shared file no older retained one refers to.
	var victim string
	for victim == "" {
		select {
		case err := <-done:
			t.Fatalf("job ended before a checkpoint with a file of its own: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		keys, _ := cps.List(ctx, "exactly-once/")
		var metas [][]byte
		for _, k := range keys {
			if strings.HasSuffix(k, "/_metadata") {
				m, err := cps.Get(ctx, k)
				if err == nil {
					metas = append(metas, m)
				}
			}
		}
		if len(metas) < 2 {
			continue
		}
		for _, k := range keys {
			if !strings.Contains(k, "/shared/") {
				continue
			}
			quoted := []byte(strconv.Quote(k))
			older := false
			for _, m := range metas[:len(metas)-1] {
				older = older || bytes.Contains(m, quoted)
			}
			if !older && bytes.Contains(metas[len(metas)-1], quoted) {
				victim = k
				break
			}
		}
	}
	crash()
	<-done
	cps.Corrupt(victim)
	if err := flow.Run(ctx, countingJob(out, opts, events, false)); err != nil {
		t.Fatal(err)
	}
	if got, want := out.upserted(), reference.upserted(); !slices.Equal(got, want) {
		t.Fatalf("after restoring the previous checkpoint: %d records, want %d", len(got), len(want))
	}
}

// TestRestoreWithTheOtherBackendFails restores a heap checkpoint into a job that keeps
// its state in Pebble, and the reverse: the run must fail with an error saying so, not
// start with empty state.
func TestRestoreWithTheOtherBackendFails(t *testing.T) {
	for _, c := range []struct{ from, to flow.StateBackend }{
		{flow.HeapBackend(), flow.PebbleBackend(t.TempDir())},
		{flow.PebbleBackend(t.TempDir()), flow.HeapBackend()},
	} {
		t.Run(c.from.String()+"-to-"+c.to.String(), func(t *testing.T) {
			out := &txnStore{committed: map[string][]string{}}
			cps := flow.NewMemStore()
			opts := flow.JobOptions{Parallelism: 2, StateBackend: c.from, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
			flowtest.CrashAfterCheckpoints(t, countingJob(out, opts, 20_000, true), 3)
			opts.StateBackend = c.to
			err := flow.Run(context.Background(), countingJob(out, opts, 20_000, false))
			if err == nil || !strings.Contains(err.Error(), "backend") {
				t.Fatalf("restore with the other backend: %v", err)
			}
		})
	}
}

// referenceRun runs the counting job without failures: the output the runs with
// crashes and restores must match.
func referenceRun(t *testing.T, backend flow.StateBackend, events int) *txnStore {
	t.Helper()
	reference := &txnStore{committed: map[string][]string{}}
	if err := flow.Run(context.Background(), countingJob(reference, flow.JobOptions{Parallelism: 2, StateBackend: backend}, events, false)); err != nil {
		t.Fatal(err)
	}
	return reference
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestBlobStoreFencesCompletion(t *testing.T) {
	ctx := context.Background()
	s, err := flow.OpenBlobStore(ctx, "file://"+t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, err := s.PutIfAbsent(ctx, "job/chk-1/_metadata", []byte("a")); !ok || err != nil {
		t.Fatalf("first completion: %v %v", ok, err)
	}
	if ok, err := s.PutIfAbsent(ctx, "job/chk-1/_metadata", []byte("b")); ok || err != nil {
		t.Fatalf("second completion must be refused: %v %v", ok, err)
	}
	if got, _ := s.Get(ctx, "job/chk-1/_metadata"); string(got) != "a" {
		t.Fatalf("marker holds %q", got)
	}
	if _, err := s.Get(ctx, "job/none"); !errors.Is(err, flow.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestSavepointRestoresAtAnotherParallelism(t *testing.T) {
	forEachBackend(t, testSavepointRestoresAtAnotherParallelism)
}

func testSavepointRestoresAtAnotherParallelism(t *testing.T, backend flow.StateBackend) {
	const events = 20_000
	reference := referenceRun(t, backend, events)
	out := &txnStore{committed: map[string][]string{}}
	cps := flow.NewMemStore()
	opts := flow.JobOptions{Parallelism: 2, StateBackend: backend, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: time.Hour}}
	job := countingJob(out, opts, events, true)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	time.Sleep(20 * time.Millisecond)
	path, err := job.Savepoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stop() // stop with savepoint: what comes after it is redone from the savepoint
	<-done
	// A savepoint is self-contained: it outlives the checkpoints and the files they
	// share.
	keys, _ := cps.List(context.Background(), "exactly-once/")
	for _, k := range keys {
		if !strings.HasPrefix(k, "exactly-once/savepoints/") {
			_ = cps.Delete(context.Background(), k)
		}
	}
	// Checkpoints taken after the savepoint must not be what the next run restores.
	opts.Parallelism = 3
	opts.Checkpoints = &flow.CheckpointOptions{Store: cps, Interval: time.Hour, RestoreFrom: path}
	if err := flow.Run(context.Background(), countingJob(out, opts, events, false)); err != nil {
		t.Fatal(err)
	}
	if got, want := out.all(), reference.all(); !slices.Equal(got, want) {
		t.Fatalf("from savepoint %s at parallelism 3: %d records, want %d", path, len(got), len(want))
	}
}

func TestFileSinkIsExactlyOnceAcrossACrash(t *testing.T) {
	dir := t.TempDir()
	build := func(opts flow.JobOptions, slow bool) *flow.Job {
		job := flow.NewJob("files", opts)
		src := flow.FromGenerator(job, "gen", 1, func(int, int) func(*int) bool {
			i := 0
			return func(v *int) bool {
				if slow && i%100 == 0 {
					time.Sleep(time.Millisecond)
				}
				*v = i
				i++
				return i <= 20_000
			}
		}, flow.SourceOptions[int]{})
		flow.ToFiles(src, "files", dir, func(v int) []byte { return []byte(fmt.Sprint(v)) })
		return job
	}
	cps := flow.NewMemStore()
	opts := flow.JobOptions{Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
	job := build(opts, true)
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	for len(job.Checkpoints()) < 3 {
		time.Sleep(time.Millisecond)
	}
	crash()
	<-done
	if err := flow.Run(context.Background(), build(opts, false)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "part-*.txt"))
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Fields(string(data)) {
			if seen[line] {
				t.Fatalf("%s written twice", line)
			}
			seen[line] = true
		}
	}
	if len(seen) != 20_000 {
		t.Fatalf("%d distinct records in the files, want 20000", len(seen))
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".part-*")); len(tmp) > 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

// flakyStore fails its first writes, like an object store having a bad minute.
type flakyStore struct {
	*flow.MemStore
	mu    sync.Mutex
	fails int
}

func (s *flakyStore) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fails > 0 {
		s.fails--
		return errors.New("503 slow down")
	}
	return s.MemStore.Put(ctx, key, data)
}

func TestFailedCheckpointsAreToleratedUpToTheLimit(t *testing.T) {
	forEachBackend(t, testFailedCheckpointsAreToleratedUpToTheLimit)
}

func testFailedCheckpointsAreToleratedUpToTheLimit(t *testing.T, backend flow.StateBackend) {
	run := func(tolerable int) (*flow.Job, error) {
		out := &txnStore{committed: map[string][]string{}}
		store := &flakyStore{MemStore: flow.NewMemStore(), fails: 2}
		opts := flow.JobOptions{Parallelism: 2, StateBackend: backend, Checkpoints: &flow.CheckpointOptions{Store: store, Interval: 5 * time.Millisecond, TolerableFailures: tolerable}}
		job := countingJob(out, opts, 20_000, true)
		return job, flow.Run(context.Background(), job)
	}
	job, err := run(2)
	if err != nil {
		t.Fatalf("two failed checkpoints with two tolerated: %v", err)
	}
	if len(job.Checkpoints()) == 0 {
		t.Fatal("no checkpoint completed after the store recovered")
	}
	if _, err := run(0); err == nil || !strings.Contains(err.Error(), "503 slow down") {
		t.Fatalf("a failed checkpoint with none tolerated: %v", err)
	}
}
