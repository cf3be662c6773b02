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
}

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

type stateWriter struct{ sections []section }

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
		for i, encode := range encoders {
			w := &stateWriter{}
			if err := encode(w); err != nil {
				cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, err: fmt.Errorf("checkpoint %d: %s: %w", id, sub.snapshotters[i].name, err)}
				return
			}
			comps = append(comps, component{Name: sub.snapshotters[i].name, Sections: w.sections})
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(comps); err != nil {
			cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, err: fmt.Errorf("checkpoint %d: encode: %w", id, err)}
			return
		}
		cp.acks <- ack{id: id, vertex: sub.vertex, subtask: sub.index, data: buf.Bytes(), pause: pause}
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
		r := &stateReader{}
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
}

type ack struct {
	id      int64
	vertex  *vertex
	subtask int
	data    []byte
	pause   time.Duration
	err     error
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
	Bytes    int
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
		rv := &restoredVertex{id: meta.ID, subtasks: make([][]component, op.Parallelism)}
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
		}
		state[op.Name] = rv
	}
	return &meta, state, nil
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
	size := 0
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
		files[a.vertex] = append(files[a.vertex], fileMetadata{Subtask: a.subtask, Key: key, Bytes: len(a.data), SHA256: hex.EncodeToString(sum[:])})
		size += len(a.data)
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
	c.stats.completed = append(c.stats.completed, CheckpointStatus{ID: id, Trigger: trigger, Duration: time.Since(trigger), MaxPause: pause, Bytes: size})
	if len(c.stats.completed) > keptCheckpointStats {
		c.stats.completed = slices.Delete(c.stats.completed, 0, len(c.stats.completed)-keptCheckpointStats)
	}
	c.stats.total++
	c.stats.mu.Unlock()
	return id, nil
}

// prune deletes all but the retained newest checkpoints.
func (c *coordinator) prune(ctx context.Context, newest int64) {
	keys, err := c.opts.Store.List(ctx, url.PathEscape(c.job.name)+"/chk-")
	if err != nil {
		return
	}
	oldest := newest - int64(c.opts.Retained) + 1
	for _, k := range keys {
		rest := strings.TrimPrefix(k, url.PathEscape(c.job.name)+"/chk-")
		if len(rest) < 20 {
			continue
		}
		id, err := strconv.ParseInt(rest[:20], 10, 64)
		if err == nil && id < oldest {
			_ = c.opts.Store.Delete(ctx, k)
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
func (j *Job) Savepoint(ctx context.Context) (string, error) {
	j.statusMu.Lock()
	c := j.coordinator
	j.statusMu.Unlock()
	if c == nil {
		return "", errors.New("savepoint: the job is not running with checkpoints")
	}
	c.copying.Add(1)
	defer c.copying.Add(-1)
	reply := make(chan int64, 1)
	select {
	case c.onDemand <- reply:
	case <-c.stopped:
		return "", errors.New("savepoint: the job is no longer running")
	case <-ctx.Done():
		return "", ctx.Err()
	}
	var id int64
	select {
	case id = <-reply:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if id == 0 {
		return "", errors.New("savepoint: the checkpoint could not complete (the job ended or failed)")
	}
	return copyCheckpoint(ctx, c.opts.Store, j.name, id)
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
