package flow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// CheckpointOptions turn on checkpoints: the job's state and source positions are saved
// periodically with asynchronous barrier snapshots, and Run restores the latest complete
// checkpoint of a job of the same name before it starts.
type CheckpointOptions struct {
	// Store keeps the checkpoints.
	Store CheckpointStore
	// Interval between checkpoints (default 10 s).
	Interval time.Duration
	// Retained is how many complete checkpoints are kept (default 3).
	Retained int
	// RestoreFrom, if set, is a savepoint (the path Job.Savepoint returned) to start
	// from instead of the job's latest checkpoint.
	RestoreFrom string
	// Timeout aborts a checkpoint not complete after it (default 10 min).
	Timeout time.Duration
	// MinPause is the least time from the end of one checkpoint to the start of the
	// next, so a slow store cannot keep the job checkpointing back to back.
	MinPause time.Duration
	// TolerableFailures is how many checkpoints in a row may fail (time out, fail to
	// write) before the job fails (default 0: the first failure fails the job, which a
	// hosting server then restarts from the latest complete checkpoint).
	TolerableFailures int
	// Logf, if set, reports failed checkpoints the job tolerates.
	Logf func(format string, args ...any)
}

// CheckpointStore is where checkpoints are written: an object store, a directory, memory.
type CheckpointStore interface {
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent writes key only if it does not exist and reports whether it wrote; it
	// fences a checkpoint's completion marker so two writers cannot both complete it.
	PutIfAbsent(ctx context.Context, key string, data []byte) (bool, error)
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys under prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	Delete(ctx context.Context, key string) error
}

// ErrNotExist is what a CheckpointStore returns for a missing key.
var ErrNotExist = errors.New("checkpoint object does not exist")

// MemStore is a CheckpointStore in memory, for tests and embedded jobs that need no
// durability across processes.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Put implements CheckpointStore.
func (s *MemStore) Put(_ context.Context, key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), data...)
	return nil
}

// PutIfAbsent implements CheckpointStore.
func (s *MemStore) PutIfAbsent(_ context.Context, key string, data []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; ok {
		return false, nil
	}
	s.m[key] = append([]byte(nil), data...)
	return true, nil
}

// Get implements CheckpointStore.
func (s *MemStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	return append([]byte(nil), d...), nil
}

// List implements CheckpointStore.
func (s *MemStore) List(_ context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete implements CheckpointStore.
func (s *MemStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Corrupt changes one byte of key, for tests of the fallback to an older checkpoint.
func (s *MemStore) Corrupt(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.m[key]; len(d) > 0 {
		d[len(d)/2] ^= 0xff
	}
}

// Layout of a checkpoint in the store (docs/checkpoints.md):
//
//	<job>/chk-<id, 20 digits>/<operator>/<subtask>   one file per subtask (gob, below)
//	<job>/chk-<id, 20 digits>/_metadata               JSON, written last, only if absent
func checkpointPrefix(job string, id int64) string {
	return url.PathEscape(job) + "/chk-" + fmt.Sprintf("%020d", id) + "/"
}

func subtaskKey(job string, id int64, operator string, subtask int) string {
	return checkpointPrefix(job, id) + url.PathEscape(operator) + "/" + strconv.Itoa(subtask)
}

// checkpointMetadata is the completion marker of a checkpoint.
type checkpointMetadata struct {
	Job       string             `json:"job"`
	ID        int64              `json:"id"`
	Triggered time.Time          `json:"triggered"`
	Completed time.Time          `json:"completed"`
	Operators []operatorMetadata `json:"operators"`
}

type operatorMetadata struct {
	Name        string         `json:"name"`
	Parallelism int            `json:"parallelism"`
	Files       []fileMetadata `json:"files"`
}

type fileMetadata struct {
	Subtask int    `json:"subtask"`
	Key     string `json:"key"`
	Bytes   int    `json:"bytes"`
	SHA256  string `json:"sha256"`
	// Shared are the files of the subtask's Pebble state, which the checkpoint refers to
	// in the job's shared area (or a savepoint's own copy).
	Shared []sharedFile `json:"shared,omitempty"`
}

// sharedFile is an immutable file of Pebble state in the store: a checkpoint uploads the
// files the previous one did not hold and refers to the others.
type sharedFile struct {
	// Name is the file's name in the subtask's database.
	Name   string `json:"name"`
	Key    string `json:"key"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// sharedPrefix is where a job's checkpoints keep the files they share.
func sharedPrefix(job string) string { return url.PathEscape(job) + "/shared/" }

// A subtask's snapshot is a gob-encoded []component: each stateful part of the subtask
// (a keyed operator's state and timers, a window operator, a source's position, a sink's
// pending transactions) writes sections tagged with the key group they belong to, or -1
// for state that belongs to the subtask as a whole.
type component struct {
	Name     string
	Sections []section
}

type section struct {
	Name     string
	KeyGroup int
	Data     []byte
}

// snapshotter is a stateful part of a subtask. snapshotState runs in the subtask while
// it waits, so it only captures: it takes shallow copies of its maps and returns a
// function that encodes them later, on another goroutine, while the subtask goes on.
// State changed after the capture must not change what was captured (see ValueState's
// copy-on-write for map values).
type snapshotter interface {
	snapshotState() func(w *stateWriter) error
	restoreState(r *stateReader) error
}

type namedSnapshotter struct {
	name string
	s    snapshotter
}

// stateWriter gathers the sections of one subtask's snapshot for checkpoint id; state
// kept in files (Pebble) uploads them to store itself and lists them in shared.
type stateWriter struct {
	sections []section
	id       int64
	ctx      context.Context
	store    CheckpointStore
	// sharedPrefix is the job's shared area; shared lists the files the snapshot refers
	// to there, and uploaded counts the bytes of those it wrote now.
	sharedPrefix string
	shared       []sharedFile
	uploaded     int
	// pause is how long the subtask waited for the snapshot after the barrier.
	pause time.Duration
}

func (w *stateWriter) put(name string, kg int, v any) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("encode state %q: %w (state values must be gob-encodable: exported fields)", name, err)
	}
	w.sections = append(w.sections, section{Name: name, KeyGroup: kg, Data: buf.Bytes()})
	return nil
}

// stateReader hands a restoring subtask the sections it owns: keyed sections of its key
// groups from every old subtask, and whole-subtask sections of the old subtask with its
// index.
type stateReader struct {
	sections []section
	// from is the old subtask of each section.
	from []int
	// ctx, store and shared (the shared files of each old subtask, by name) let state
	// kept in files download them; sharedPrefix is the job's shared area.
	ctx          context.Context
	store        CheckpointStore
	shared       []map[string]sharedFile
	sharedPrefix string
}

func (r *stateReader) each(name string, fn func(kg int, dec *gob.Decoder) error) error {
	for _, s := range r.sections {
		if s.Name != name {
			continue
		}
		if err := fn(s.KeyGroup, gob.NewDecoder(bytes.NewReader(s.Data))); err != nil {
			return fmt.Errorf("restore state %q: %w", name, err)
		}
	}
	return nil
}

// eachFrom is each with the old subtask that wrote the section.
func (r *stateReader) eachFrom(name string, fn func(old int, dec *gob.Decoder) error) error {
	for i, s := range r.sections {
		if s.Name != name {
			continue
		}
		if err := fn(r.from[i], gob.NewDecoder(bytes.NewReader(s.Data))); err != nil {
			return fmt.Errorf("restore state %q: %w", name, err)
		}
	}
	return nil
}

// download writes the files of an old subtask's Pebble section into dir, checking each
// shared file against its checksum, and returns the shared files by name.
func (r *stateReader) download(dir string, old int, sec pebbleSection) (map[string]sharedFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range sec.Private {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f.Name)), f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	files := map[string]sharedFile{}
	for _, name := range sec.Shared {
		var f sharedFile
		if old < len(r.shared) {
			f = r.shared[old][name]
		}
		if f.Key == "" {
			return nil, fmt.Errorf("pebble file %s of old subtask %d is not in the checkpoint's metadata", name, old)
		}
		data, err := r.store.Get(r.ctx, f.Key)
		if err != nil {
			return nil, err
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, fmt.Errorf("%s: checksum mismatch", f.Key)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o644); err != nil {
			return nil, err
		}
		files[name] = f
	}
	return files, nil
}

// checkpoint snapshots the subtask for checkpoint id and hands it to the coordinator.
// Everything before the barrier has been processed and nothing after it, so the state
// is consistent with every other subtask's.
func (sub *subtask) checkpoint(id int64) {
	cp := sub.run.cp
	if cp == nil {
		return
	}
	start := time.Now()
	encoders := make([]func(*stateWriter) error, len(sub.snapshotters))
	for i, ns := range sub.snapshotters {
		encoders[i] = ns.s.snapshotState()
	}
	pause := time.Since(start)
	// The subtask goes on; the captured state is encoded beside it.
	go func() {
		comps := make([]component, 0, len(encoders))
		var shared []sharedFile
		uploaded := 0
		for i, encode := range encoders {
			w := &stateWriter{id: id, ctx: sub.run.ctx, store: cp.opts.Store, sharedPrefix: sharedPrefix(sub.run.job.name)}
			if err := encode(w); err != nil {
				cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, err: fmt.Errorf("checkpoint %d: %s: %w", id, sub.snapshotters[i].name, err)}
				return
			}
			comps = append(comps, component{Name: sub.snapshotters[i].name, Sections: w.sections})
			shared = append(shared, w.shared...)
			uploaded += w.uploaded
			pause += w.pause
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(comps); err != nil {
			cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, err: fmt.Errorf("checkpoint %d: encode: %w", id, err)}
			return
		}
		cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, data: buf.Bytes(), shared: shared, uploaded: uploaded, pause: pause}
	}()
}

// restore loads the subtask's share of a restored checkpoint into its snapshotters.
func (sub *subtask) restore() error {
	prior := sub.run.restored[sub.vertex.name]
	if prior == nil {
		return nil
	}
	maxPar := sub.run.job.opts.MaxParallelism
	first, last := engine.KeyGroupRange(sub.index, maxPar, sub.parallelism)
	for _, ns := range sub.snapshotters {
		r := &stateReader{ctx: sub.run.ctx, store: sub.run.job.opts.Checkpoints.Store, shared: prior.shared, sharedPrefix: sharedPrefix(sub.run.job.name)}
		for oldIndex, comps := range prior.subtasks {
			for _, c := range comps {
				if c.Name != ns.name {
					continue
				}
				for _, s := range c.Sections {
					if s.KeyGroup >= 0 && s.KeyGroup >= first && s.KeyGroup <= last ||
						s.KeyGroup == -1 && oldIndex == sub.index ||
						s.KeyGroup == broadcastGroup && oldIndex == 0 ||
						s.KeyGroup == unionGroup ||
						s.KeyGroup == spreadGroup && oldIndex%sub.parallelism == sub.index {
						r.sections = append(r.sections, s)
						r.from = append(r.from, oldIndex)
					}
				}
			}
		}
		if err := ns.s.restoreState(r); err != nil {
			return fmt.Errorf("restore %s of checkpoint %d: %w", ns.name, prior.id, err)
		}
	}
	return nil
}

// broadcastGroup tags sections every subtask restores from the first old subtask: every
// copy of broadcast state is the same.
const broadcastGroup = -2

// unionGroup tags sections every restoring subtask receives from every old subtask, such
// as a stream source's shard positions: each subtask keeps the part it now owns.
const unionGroup = -3

// spreadGroup tags sections of old subtask i that new subtask i % parallelism restores,
// such as a sink's pending transactions: after a rescale to fewer subtasks none is lost.
const spreadGroup = -4

// restoredVertex is one operator's part of the checkpoint a run starts from.
type restoredVertex struct {
	id       int64
	subtasks [][]component
	// shared are the shared files of each old subtask, by name.
	shared []map[string]sharedFile
}

type ack struct {
	id      int64
	vertex  *vertex
	subtask int
	data    []byte
	// shared are the files the snapshot refers to in the shared area; uploaded counts
	// the bytes of those it wrote there now.
	shared   []sharedFile
	uploaded int
	pause    time.Duration
	err      error
}

// coordinator triggers checkpoints, gathers the subtasks' snapshots, writes them and the
// completion marker, and tells the subtasks when a checkpoint is complete.
type coordinator struct {
	job      *Job
	opts     CheckpointOptions
	acks     chan ack
	sources  []chan int64 // per source subtask: barriers to inject
	subtasks []chan int64 // per subtask: completed checkpoints
	total    int
	nextID   int64
	// finished closes when the first subtask ends: no checkpoint can complete after that.
	finished   chan struct{}
	finishOnce sync.Once
	stats      checkpointStats
	// onDemand takes requests for a checkpoint now; each gets the id of the completed
	// checkpoint, or 0 if it could not complete.
	onDemand chan chan int64
	stopped  chan struct{}
	// copying counts savepoints being copied: pruning waits, so it cannot delete the
	// checkpoint a savepoint is copied from.
	copying atomic.Int32
}

type checkpointStats struct {
	mu sync.Mutex
	// completed holds the newest keptCheckpointStats checkpoints; total counts them all.
	completed []CheckpointStatus
	total     int64
	failed    int64
}

// keptCheckpointStats bounds the history a long-running job keeps in memory.
const keptCheckpointStats = 100

// CheckpointStatus describes one completed checkpoint.
type CheckpointStatus struct {
	ID       int64
	Trigger  time.Time
	Duration time.Duration
	// MaxPause is the longest any subtask stopped processing to take its snapshot.
	MaxPause time.Duration
	// Bytes is what the checkpoint wrote to the store; FullBytes is what it holds:
	// Bytes and the files of Pebble state that earlier checkpoints uploaded and this
	// one refers to. They are equal for heap state.
	Bytes     int
	FullBytes int
}

// highestID is the largest checkpoint id with any object in the store, complete or not:
// a new run numbers its checkpoints after it, so it never collides with a leftover.
func highestID(keys []string, job string) int64 {
	var top int64
	for _, k := range keys {
		rest := strings.TrimPrefix(k, url.PathEscape(job)+"/chk-")
		if len(rest) >= 20 {
			if id, err := strconv.ParseInt(rest[:20], 10, 64); err == nil {
				top = max(top, id)
			}
		}
	}
	return top
}

func latestOf(ctx context.Context, store CheckpointStore, keys []string) (*checkpointMetadata, map[string]*restoredVertex, error) {
	var metas []string
	for _, k := range keys {
		if strings.HasSuffix(k, "/_metadata") {
			metas = append(metas, k)
		}
	}
	for i := len(metas) - 1; i >= 0; i-- {
		meta, state, err := loadCheckpoint(ctx, store, metas[i])
		if err == nil {
			return meta, state, nil
		}
	}
	return nil, nil, nil
}

func loadCheckpoint(ctx context.Context, store CheckpointStore, metaKey string) (*checkpointMetadata, map[string]*restoredVertex, error) {
	raw, err := store.Get(ctx, metaKey)
	if err != nil {
		return nil, nil, err
	}
	var meta checkpointMetadata
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", metaKey, err)
	}
	state := map[string]*restoredVertex{}
	for _, op := range meta.Operators {
		rv := &restoredVertex{id: meta.ID, subtasks: make([][]component, op.Parallelism), shared: make([]map[string]sharedFile, op.Parallelism)}
		if err := checkShared(ctx, store, op.Files); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", metaKey, err)
		}
		for _, f := range op.Files {
			data, err := store.Get(ctx, f.Key)
			if err != nil {
				return nil, nil, err
			}
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != f.SHA256 {
				return nil, nil, fmt.Errorf("%s: checksum mismatch", f.Key)
			}
			var comps []component
			if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&comps); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Key, err)
			}
			rv.subtasks[f.Subtask] = comps
			rv.shared[f.Subtask] = map[string]sharedFile{}
			for _, sf := range f.Shared {
				rv.shared[f.Subtask][sf.Name] = sf
			}
		}
		state[op.Name] = rv
	}
	return &meta, state, nil
}

// checkShared checks that the shared files the subtask files refer to exist, with one
// listing per directory, and are intact: a checkpoint with a damaged shared file is
// skipped for the one before, as one with a damaged subtask file is. That reads the
// shared files once more than the restore does — the price of falling back instead of
// failing.
func checkShared(ctx context.Context, store CheckpointStore, files []fileMetadata) error {
	listed := map[string]map[string]bool{}
	checked := map[string]bool{}
	for _, f := range files {
		for _, sf := range f.Shared {
			if checked[sf.Key] {
				continue
			}
			checked[sf.Key] = true
			dir := sf.Key[:strings.LastIndex(sf.Key, "/")+1]
			if listed[dir] == nil {
				keys, err := store.List(ctx, dir)
				if err != nil {
					return err
				}
				listed[dir] = map[string]bool{}
				for _, k := range keys {
					listed[dir][k] = true
				}
			}
			if !listed[dir][sf.Key] {
				return fmt.Errorf("shared file %s: %w", sf.Key, ErrNotExist)
			}
			data, err := store.Get(ctx, sf.Key)
			if err != nil {
				return err
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sf.SHA256 {
				return fmt.Errorf("shared file %s: checksum mismatch", sf.Key)
			}
		}
	}
	return nil
}

// run drives checkpoints until the job ends.
func (c *coordinator) run(ctx context.Context, fail func(error)) {
	ticker := time.NewTicker(c.opts.Interval)
	defer ticker.Stop()
	var waiting []chan int64
	defer func() {
		close(c.stopped)
		for _, w := range waiting {
			w <- 0
		}
	}()
	failures := 0
	var lastEnd time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.finished:
			return
		case <-ticker.C:
			if time.Since(lastEnd) < c.opts.MinPause {
				continue
			}
		case w := <-c.onDemand:
			waiting = append(waiting, w)
		}
		id, err := c.take(ctx)
		lastEnd = time.Now()
		switch {
		case errors.Is(err, errRunEnded):
			return
		case err != nil:
			failures++
			c.stats.mu.Lock()
			c.stats.failed++
			c.stats.mu.Unlock()
			for _, w := range waiting {
				w <- 0
			}
			waiting = nil
			if failures > c.opts.TolerableFailures {
				fail(fmt.Errorf("%w (%d checkpoints in a row failed; the job tolerates %d)", err, failures, c.opts.TolerableFailures))
				return
			}
			c.job.logf("checkpoint %d failed: %v", id, err)
			continue
		}
		failures = 0
		for _, ch := range c.subtasks {
			// Replace an older notification the subtask has not taken: the newer one
			// covers it.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- id:
			default:
			}
		}
		for _, w := range waiting {
			w <- id
		}
		waiting = nil
		if c.copying.Load() == 0 {
			c.prune(ctx, id)
		}
	}
}

// errRunEnded means the run ended while a checkpoint was under way.
var errRunEnded = errors.New("run ended")

// take triggers one checkpoint and waits for it to complete, for Timeout at most.
func (c *coordinator) take(ctx context.Context) (int64, error) {
	c.nextID++
	id := c.nextID
	trigger := time.Now()
	for _, ch := range c.sources {
		select {
		case <-ch: // a barrier of an aborted checkpoint its source never took
		default:
		}
		ch <- id
	}
	timeout := time.NewTimer(c.opts.Timeout)
	defer timeout.Stop()
	files := map[*vertex][]fileMetadata{}
	size, full := 0, 0
	var pause time.Duration
	for n := 0; n < c.total; n++ {
		var a ack
		select {
		case a = <-c.acks:
		case <-ctx.Done():
			return id, errRunEnded
		case <-c.finished:
			// A subtask ended before acknowledging: this checkpoint cannot complete.
			return id, errRunEnded
		case <-timeout.C:
			return id, fmt.Errorf("checkpoint %d: timed out after %s with %d of %d subtasks acknowledged", id, c.opts.Timeout, n, c.total)
		}
		if a.id != id {
			n-- // a late acknowledgement of an aborted checkpoint
			continue
		}
		if a.err != nil {
			return id, a.err
		}
		key := subtaskKey(c.job.name, id, a.vertex.name, a.subtask)
		if err := c.opts.Store.Put(ctx, key, a.data); err != nil {
			return id, fmt.Errorf("checkpoint %d: write %s: %w", id, key, err)
		}
		sum := sha256.Sum256(a.data)
		files[a.vertex] = append(files[a.vertex], fileMetadata{Subtask: a.subtask, Key: key, Bytes: len(a.data), SHA256: hex.EncodeToString(sum[:]), Shared: a.shared})
		size += len(a.data) + a.uploaded
		full += len(a.data)
		for _, f := range a.shared {
			full += f.Bytes
		}
		pause = max(pause, a.pause)
	}
	meta := checkpointMetadata{Job: c.job.name, ID: id, Triggered: trigger, Completed: time.Now()}
	for _, v := range c.job.vertices {
		meta.Operators = append(meta.Operators, operatorMetadata{Name: v.name, Parallelism: v.parallelism, Files: files[v]})
	}
	raw, _ := json.MarshalIndent(meta, "", "  ")
	ok, err := c.opts.Store.PutIfAbsent(ctx, checkpointPrefix(c.job.name, id)+"_metadata", raw)
	if err != nil {
		return id, fmt.Errorf("checkpoint %d: complete: %w", id, err)
	}
	if !ok {
		return id, fmt.Errorf("checkpoint %d: completed by another run of job %q", id, c.job.name)
	}
	c.stats.mu.Lock()
	c.stats.completed = append(c.stats.completed, CheckpointStatus{ID: id, Trigger: trigger, Duration: time.Since(trigger), MaxPause: pause, Bytes: size, FullBytes: full})
	if len(c.stats.completed) > keptCheckpointStats {
		c.stats.completed = slices.Delete(c.stats.completed, 0, len(c.stats.completed)-keptCheckpointStats)
	}
	c.stats.total++
	c.stats.mu.Unlock()
	return id, nil
}

// prune deletes all but the retained newest checkpoints, then the shared files no
// retained checkpoint refers to. It runs between checkpoints, so no checkpoint being
// taken can refer to a file it deletes; a file uploaded by a checkpoint that never
// completed is deleted too (the next checkpoint uploads it again if it needs it).
func (c *coordinator) prune(ctx context.Context, newest int64) {
	store := c.opts.Store
	keys, err := store.List(ctx, url.PathEscape(c.job.name)+"/chk-")
	if err != nil {
		return
	}
	oldest := newest - int64(c.opts.Retained) + 1
	var retained []string
	for _, k := range keys {
		rest := strings.TrimPrefix(k, url.PathEscape(c.job.name)+"/chk-")
		if len(rest) < 20 {
			continue
		}
		id, err := strconv.ParseInt(rest[:20], 10, 64)
		switch {
		case err != nil:
		case id < oldest:
			_ = store.Delete(ctx, k)
		case strings.HasSuffix(k, "/_metadata"):
			retained = append(retained, k)
		}
	}
	shared, err := store.List(ctx, sharedPrefix(c.job.name))
	if err != nil || len(shared) == 0 {
		return
	}
	referenced := map[string]bool{}
	for _, k := range retained {
		raw, err := store.Get(ctx, k)
		if err != nil {
			return
		}
		var meta checkpointMetadata
		if err := json.Unmarshal(raw, &meta); err != nil {
			// A retained checkpoint that cannot be read might still be restored by hand:
			// keep every shared file.
			return
		}
		for _, op := range meta.Operators {
			for _, f := range op.Files {
				for _, sf := range f.Shared {
					referenced[sf.Key] = true
				}
			}
		}
	}
	for _, k := range shared {
		if !referenced[k] {
			_ = store.Delete(ctx, k)
		}
	}
}

// prepareCheckpoints numbers the subtasks, loads the checkpoint to restore and sets up
// the coordinator.
func (j *Job) prepareCheckpoints(r *run) error {
	n, sources := 0, 0
	for _, v := range j.vertices {
		v.index = n
		n += v.parallelism
		if v.source {
			v.sourceIndex = sources
			sources += v.parallelism
		}
	}
	c := j.opts.Checkpoints
	if c == nil {
		return nil
	}
	keys, err := c.Store.List(r.ctx, url.PathEscape(j.name)+"/chk-")
	if err != nil {
		return fmt.Errorf("list checkpoints: %w", err)
	}
	var state map[string]*restoredVertex
	if c.RestoreFrom != "" {
		if _, state, err = loadCheckpoint(r.ctx, c.Store, c.RestoreFrom+"_metadata"); err != nil {
			return fmt.Errorf("restore savepoint %s: %w", c.RestoreFrom, err)
		}
	} else if _, state, err = latestOf(r.ctx, c.Store, keys); err != nil {
		return err
	}
	r.restored = state
	cp := &coordinator{job: j, opts: *c, acks: make(chan ack, n), total: n, finished: make(chan struct{}), nextID: highestID(keys, j.name), onDemand: make(chan chan int64), stopped: make(chan struct{})}
	cp.sources = make([]chan int64, sources)
	for i := range cp.sources {
		cp.sources[i] = make(chan int64, 1)
	}
	cp.subtasks = make([]chan int64, n)
	for i := range cp.subtasks {
		cp.subtasks[i] = make(chan int64, 1)
	}
	r.cp = cp
	j.statusMu.Lock()
	j.checkpoints = &cp.stats
	j.coordinator = cp
	j.statusMu.Unlock()
	return nil
}

// Savepoint takes a checkpoint of the running job now and copies it to
// <job>/savepoints/<id>/ in the checkpoint store, where it is never pruned. It returns
// the savepoint's path, which CheckpointOptions.RestoreFrom accepts: a job built from
// the same code (operator names are the identity of state) restores it, at any
// parallelism.
//
// A savepoint is self-contained: the files of Pebble state its checkpoint shares with
// others are copied into it, so it is a full copy of the state.
func (j *Job) Savepoint(ctx context.Context) (string, error) {
	j.statusMu.Lock()
	c := j.coordinator
	j.statusMu.Unlock()
	if c == nil {
		return "", errors.New("savepoint: the job is not running with checkpoints")
	}
	c.copying.Add(1)
	defer c.copying.Add(-1)
	id, err := c.checkpointNow(ctx)
	if err != nil {
		return "", fmt.Errorf("savepoint: %w", err)
	}
	return copyCheckpoint(ctx, c.opts.Store, j.name, id)
}

// Checkpoint takes a checkpoint of the running job now, besides the periodic ones, and
// returns its id once it is complete.
func (j *Job) Checkpoint(ctx context.Context) (int64, error) {
	j.statusMu.Lock()
	c := j.coordinator
	j.statusMu.Unlock()
	if c == nil {
		return 0, errors.New("checkpoint: the job is not running with checkpoints")
	}
	id, err := c.checkpointNow(ctx)
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	return id, nil
}

// checkpointNow asks the coordinator for a checkpoint and waits for it to complete.
func (c *coordinator) checkpointNow(ctx context.Context) (int64, error) {
	reply := make(chan int64, 1)
	select {
	case c.onDemand <- reply:
	case <-c.stopped:
		return 0, errors.New("the job is no longer running")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	var id int64
	select {
	case id = <-reply:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if id == 0 {
		return 0, errors.New("the checkpoint could not complete (the job ended or failed)")
	}
	return id, nil
}

// copyCheckpoint copies checkpoint id to the savepoints area, metadata last.
func copyCheckpoint(ctx context.Context, store CheckpointStore, job string, id int64) (string, error) {
	src := checkpointPrefix(job, id)
	dst := url.PathEscape(job) + "/savepoints/" + fmt.Sprintf("%020d", id) + "/"
	raw, err := store.Get(ctx, src+"_metadata")
	if err != nil {
		return "", fmt.Errorf("savepoint: %w", err)
	}
	var meta checkpointMetadata
	if err := json.Unmarshal(raw, &meta); err != nil {
		return "", fmt.Errorf("savepoint: %w", err)
	}
	for oi := range meta.Operators {
		for fi := range meta.Operators[oi].Files {
			f := &meta.Operators[oi].Files[fi]
			data, err := store.Get(ctx, f.Key)
			if err != nil {
				return "", fmt.Errorf("savepoint: %w", err)
			}
			f.Key = dst + strings.TrimPrefix(f.Key, src)
			if err := store.Put(ctx, f.Key, data); err != nil {
				return "", fmt.Errorf("savepoint: %w", err)
			}
			for si := range f.Shared {
				sf := &f.Shared[si]
				data, err := store.Get(ctx, sf.Key)
				if err != nil {
					return "", fmt.Errorf("savepoint: %w", err)
				}
				sf.Key = dst + "shared/" + sf.Key[strings.LastIndex(sf.Key, "/")+1:]
				if err := store.Put(ctx, sf.Key, data); err != nil {
					return "", fmt.Errorf("savepoint: %w", err)
				}
			}
		}
	}
	out, _ := json.MarshalIndent(meta, "", "  ")
	if err := store.Put(ctx, dst+"_metadata", out); err != nil {
		return "", fmt.Errorf("savepoint: %w", err)
	}
	return dst, nil
}

// CheckpointsCompleted counts the checkpoints the current run completed.
func (j *Job) CheckpointsCompleted() int64 {
	j.statusMu.Lock()
	st := j.checkpoints
	j.statusMu.Unlock()
	if st == nil {
		return 0
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.total
}

// Checkpoints lists the newest checkpoints (up to 100) the current run completed, oldest
// first.
func (j *Job) Checkpoints() []CheckpointStatus {
	j.statusMu.Lock()
	st := j.checkpoints
	j.statusMu.Unlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]CheckpointStatus(nil), st.completed...)
}
