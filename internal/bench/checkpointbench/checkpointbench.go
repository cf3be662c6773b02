package checkpointbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// Config chooses the cases to run.
type Config struct {
	// Backends lists the state backends to try: "heap", "pebble" or both.
	Backends []string
	// States lists the state sizes to try, in bytes of values: a state of S bytes holds
	// S ÷ ValueBytes keys.
	States     []int64
	ValueBytes int
	// Interval between checkpoints, and Duration of the measured phase of each job.
	Interval time.Duration
	Duration time.Duration
	// Parallelism is the number of keyed subtasks (default GOMAXPROCS).
	Parallelism int
	// Dir is where the checkpoint directories are made; empty picks the system temp dir,
	// or the user cache dir when the temp dir is in memory (tmpfs), so checkpoints are
	// written to a disk.
	Dir string
	// Progress, if set, receives a line as each phase starts.
	Progress io.Writer
}

// DefaultConfig is what `eddy bench checkpoint` runs without flags: a 100 MB state,
// which takes under a minute and about 1.5 GB of memory at its peak (650 MB of it
// live). A 1 GB state is opt-in: it needs about ten times that.
func DefaultConfig() Config {
	return Config{
		Backends:    []string{"heap"},
		States:      []int64{100 * mb},
		ValueBytes:  100,
		Interval:    2 * time.Second,
		Duration:    20 * time.Second,
		Parallelism: runtime.GOMAXPROCS(0),
	}
}

const (
	kb = 1000
	mb = 1000 * kb
	gb = 1000 * mb
)

// maxKeys keeps the update walk a permutation of the keys (see source.Run).
const maxKeys = 2_000_000_000

func (c *Config) validate() error {
	if len(c.Backends) == 0 {
		return errors.New("need at least one state backend")
	}
	for _, b := range c.Backends {
		if b != "heap" && b != "pebble" {
			return fmt.Errorf("state backend %q: want heap or pebble", b)
		}
	}
	switch {
	case len(c.States) == 0:
		return errors.New("need at least one state size")
	case c.ValueBytes < 1:
		return fmt.Errorf("value bytes must be positive, got %d", c.ValueBytes)
	case c.Interval <= 0:
		return fmt.Errorf("checkpoint interval must be positive, got %s", c.Interval)
	case c.Duration < c.Interval:
		return fmt.Errorf("duration (%s) must be at least one checkpoint interval (%s)", c.Duration, c.Interval)
	case c.Parallelism < 1:
		return fmt.Errorf("parallelism must be positive, got %d", c.Parallelism)
	}
	for _, s := range c.States {
		keys := s / int64(c.ValueBytes)
		if keys < 1 || keys > maxKeys {
			return fmt.Errorf("state %s of %d-byte values makes %d keys: want 1..%d", FormatSize(s), c.ValueBytes, keys, maxKeys)
		}
	}
	return nil
}

// ParseSize reads a size such as 100MB, 1GB, 512KiB or 4096 (bytes). KB, MB and GB are
// powers of 1000, KiB, MiB and GiB of 1024.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", kb}, {"MB", mb}, {"GB", gb}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return int64(v * float64(mult)), nil
}

// FormatSize writes bytes in decimal units, as ParseSize reads them.
func FormatSize(b int64) string {
	switch {
	case b >= gb:
		return strconv.FormatFloat(float64(b)/gb, 'f', -1, 64) + " GB"
	case b >= mb:
		return strconv.FormatFloat(float64(b)/mb, 'f', -1, 64) + " MB"
	case b >= kb:
		return strconv.FormatFloat(float64(b)/kb, 'f', -1, 64) + " KB"
	}
	return strconv.FormatInt(b, 10) + " B"
}

// Run runs every case of cfg and reports the figures. On error the report holds the
// cases finished so far.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	mem, restoreLimit := planMemory()
	defer restoreLimit()
	if slices.Contains(cfg.Backends, "heap") {
		for _, s := range cfg.States {
			if err := mem.check(s, s/int64(cfg.ValueBytes), cfg.ValueBytes); err != nil {
				return nil, err
			}
		}
	}
	base, fs, err := checkpointBase(cfg.Dir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(base, "eddy-bench-checkpoint-")
	if err != nil {
		return nil, fmt.Errorf("make checkpoint dir: %w", err)
	}
	defer os.RemoveAll(dir)
	rep := &Report{
		StartedAt:       time.Now().UTC(),
		ValueBytes:      cfg.ValueBytes,
		Interval:        cfg.Interval,
		IntervalSeconds: cfg.Interval.Seconds(),
		Duration:        cfg.Duration,
		DurationSeconds: cfg.Duration.Seconds(),
		Parallelism:     cfg.Parallelism,
		GOMAXPROCS:      runtime.GOMAXPROCS(0),
		CPUs:            runtime.NumCPU(),
		GoVersion:       runtime.Version(),
		StoreDir:        dir,
		StoreFS:         fs,
		MemoryAvailable: mem.available,
		MemoryLimit:     mem.limit,
	}
	defer rep.check()
	b := &bench{cfg: cfg, dir: dir}
	for _, s := range cfg.States {
		for _, backend := range cfg.Backends {
			res, err := b.runCase(ctx, backend, s)
			if err != nil {
				return rep, fmt.Errorf("%s state %s: %w", backend, FormatSize(s), err)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	return rep, nil
}

// bench is one run.
type bench struct {
	cfg Config
	dir string
}

func (b *bench) progress(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format+"\n", args...)
	}
}

// runCase measures one state size with one backend: a baseline job without
// checkpoints, the same job with checkpoints (and, at its end, a checkpoint after 1% of
// the keys changed), then a new run restoring the latest of them. Only one job holds
// state at a time, and the memory of the last is returned before the next starts.
func (b *bench) runCase(ctx context.Context, backend string, stateBytes int64) (res Result, err error) {
	keys := stateBytes / int64(b.cfg.ValueBytes)
	res = Result{Backend: backend, StateBytes: stateBytes, Keys: keys}
	peak := startPeakSampler()
	defer func() { res.PeakMemoryBytes, res.PeakLiveHeapBytes = peak.stop() }()
	name := backend + " " + FormatSize(stateBytes)
	caseDir := filepath.Join(b.dir, backend+"-"+strings.ReplaceAll(FormatSize(stateBytes), " ", ""))
	p := plan{keys: keys, valueBytes: b.cfg.ValueBytes, fill: true, parallelism: b.cfg.Parallelism, backend: flow.HeapBackend()}
	if backend == "pebble" {
		p.stateDir = filepath.Join(caseDir, "state")
		p.backend = flow.PebbleBackend(p.stateDir)
	}
	defer os.RemoveAll(caseDir)

	b.progress("state %s: baseline, no checkpoints: fill %d keys, then %s of records", name, keys, b.cfg.Duration)
	returnMemory()
	before := heapInUse()
	base, err := b.phase(ctx, p, stateBytes)
	if err != nil {
		return res, fmt.Errorf("baseline: %w", err)
	}
	res.FillSeconds = base.fill.Seconds()
	res.SettleSeconds = base.settle.Seconds()
	res.HeapBytes = max(base.heap-before, 0)
	res.DiskBytes = base.disk
	res.BaselineRecordsPerSec = base.rate

	storeDir := filepath.Join(caseDir, "checkpoints")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return res, fmt.Errorf("make checkpoint dir: %w", err)
	}
	store, err := flow.OpenBlobStore(ctx, "file://"+filepath.ToSlash(storeDir))
	if err != nil {
		return res, err
	}
	defer store.Close()

	b.progress("state %s: checkpoints every %s: fill, then %s of records, then a checkpoint after 1%% of the keys changed", name, b.cfg.Interval, b.cfg.Duration)
	returnMemory()
	// The harness triggers the checkpoints (Job.Checkpoint), so that it can stop them
	// for the incremental measurement at the end.
	p.checkpoints = &flow.CheckpointOptions{Store: store, Interval: time.Hour}
	p.trigger = b.cfg.Interval
	cp, err := b.phase(ctx, p, stateBytes)
	if err != nil {
		return res, fmt.Errorf("with checkpoints: %w", err)
	}
	res.CheckpointRecordsPerSec = cp.rate
	res.CheckpointPhaseSeconds = cp.measured.Seconds()
	if base.rate > 0 {
		res.VsBaseline = cp.rate / base.rate
	}
	res.setCheckpoints(cp.periodic)
	res.setIncremental(cp.checkpoints, cp.changed)

	b.progress("state %s: restore the latest checkpoint in a new run", name)
	returnMemory()
	p.fill = false
	// The restoring run takes no checkpoint while it is watched.
	p.checkpoints = &flow.CheckpointOptions{Store: store, Interval: time.Hour}
	p.trigger = 0
	rec, err := restore(ctx, p)
	if err != nil {
		return res, fmt.Errorf("restore: %w", err)
	}
	res.RecoveryMs = ms(rec.recovery)
	res.RestoreSampled, res.RestoreMissing = rec.sampled, rec.missing
	if rec.missing > 0 {
		res.Error = fmt.Sprintf("after restore %d of %d sampled keys had no value: the state was not restored in full", rec.missing, rec.sampled)
	}
	returnMemory()
	return res, nil
}

// phaseResult is what one measured job did.
type phaseResult struct {
	fill time.Duration
	// heap is the Go heap in use right after the fill, after a full GC; disk is what the
	// Pebble state's working copies take on disk then.
	heap, disk int64
	// settle is how long Pebble's compactions took to catch up with the fill.
	settle time.Duration
	// measured is how long the events were counted, and rate how many were processed
	// per second.
	measured time.Duration
	rate     float64
	// periodic are the checkpoints triggered every interval after the fill; checkpoints
	// are those and the two of the incremental measurement, the last taken after
	// changed keys were updated.
	periodic, checkpoints []flow.CheckpointStatus
	changed               int64
}

// A fill as fast as the job takes it leaves Pebble far behind with its compactions, and
// reads look through many files until they catch up: the measured phases start once
// no compaction has run in settledSamples status samples 200 ms apart (the job's status
// is refreshed every second), or fail after maxSettle.
const (
	settledSamples = 10
	maxSettle      = 20 * time.Minute
)

// waitForCompactions waits until no Pebble compaction of the job has run for
// settledSamples status samples.
func (r *runner) waitForCompactions(ctx context.Context, job *flow.Job) error {
	quiet := 0
	settled := throttled(200*time.Millisecond, func() bool {
		if compactions(job) > 0 {
			quiet = 0
			return false
		}
		quiet++
		return quiet >= settledSamples
	})
	return r.waitFor(ctx, settled, maxSettle)
}

// throttled calls cond at most once per d and answers false in between, so a poll
// of the job's status every millisecond does not slow the job down.
func throttled(d time.Duration, cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) < d {
			return false
		}
		last = time.Now()
		return cond()
	}
}

// compactions counts the Pebble compactions running in the job's subtasks.
func compactions(job *flow.Job) int64 {
	var n int64
	for _, op := range job.Status().Operators {
		for _, s := range op.Subtasks {
			n += s.StateCompactions
		}
	}
	return n
}

// minCheckpoints is how many checkpoints the checkpointing phase waits for beyond its
// duration, when checkpoints take longer than the interval, so the figures describe more
// than one; maxCheckpointWait bounds that wait.
const (
	minCheckpoints    = 3
	maxCheckpointWait = 10 * time.Minute
)

// phase runs the job of p: it waits for the fill to be processed, collects garbage,
// then counts events for Duration (with checkpoints, also until minCheckpoints have
// completed), measures an incremental checkpoint if it takes checkpoints, and stops
// the job.
func (b *bench) phase(ctx context.Context, p plan, stateBytes int64) (phaseResult, error) {
	var out phaseResult
	p.control = newControl()
	job, c := newJob(p)
	r := start(ctx, job)
	defer r.stop()
	stopTrigger := func() error { return nil }
	defer func() { _ = stopTrigger() }()
	begin := time.Now()
	if err := r.waitFor(ctx, func() bool { return c.total(countFilled) == p.keys }, fillTimeout(stateBytes)); err != nil {
		return out, fmt.Errorf("fill %d keys: %w", p.keys, err)
	}
	out.fill = time.Since(begin)
	if p.stateDir != "" {
		// The steady updates stop meanwhile: at 1% of the keys per second they keep
		// the compactions of a large state busy on their own.
		settleStart := time.Now()
		p.control.updates.Store(false)
		if err := r.waitForCompactions(ctx, job); err != nil {
			return out, fmt.Errorf("wait for Pebble's compactions to catch up with the fill: %w", err)
		}
		p.control.updates.Store(true)
		out.settle = time.Since(settleStart)
	}
	filled := time.Now()
	// Both phases start from a collected heap, and the baseline's heap is the state's.
	runtime.GC()
	out.heap = heapInUse()
	out.disk = diskUsage(p.stateDir)
	if p.trigger > 0 {
		stopTrigger = r.trigger(ctx, job, p.trigger)
	}

	// A checkpoint triggered after the last fill record was processed holds every key.
	complete := func() []flow.CheckpointStatus {
		var cps []flow.CheckpointStatus
		for _, s := range job.Checkpoints() {
			if !s.Trigger.Before(filled) {
				cps = append(cps, s)
			}
		}
		return cps
	}
	from, events0 := time.Now(), c.total(countEvents)
	if err := r.sleep(ctx, b.cfg.Duration); err != nil {
		return out, err
	}
	if p.checkpoints != nil {
		enough := func() bool { return len(complete()) >= minCheckpoints }
		if err := r.waitFor(ctx, enough, maxCheckpointWait); err != nil {
			return out, fmt.Errorf("wait for %d checkpoints: %w", minCheckpoints, err)
		}
	}
	out.measured, out.periodic = time.Since(from), complete()
	out.rate = float64(c.total(countEvents)-events0) / out.measured.Seconds()
	if p.trigger > 0 {
		if err := stopTrigger(); err != nil {
			return out, err
		}
		changed, err := incremental(ctx, r, job, p, c, p.stateDir != "")
		if err != nil {
			return out, fmt.Errorf("incremental checkpoint: %w", err)
		}
		out.changed = changed
	}
	out.checkpoints = complete()
	if n := c.total(countMissing); n > 0 {
		return out, fmt.Errorf("%d events found no value for their key after the fill", n)
	}
	return out, r.stop()
}

// incrementalRounds is how many checkpoints after a 1% change are measured: whether
// one of them also uploads what a compaction rewrote depends on when the compaction
// ran, so the report gives their median and maximum.
const incrementalRounds = 3

// incremental stops the source's updates, waits for Pebble's compactions of the earlier
// updates to end (with pebble) and takes a checkpoint; then, each round, it updates 1%
// of the keys (distinct ones, not updated before), waits until they are processed and
// takes another checkpoint, which holds only that change beyond the one before, and
// what compactions the change set off have rewritten by then. Events go on throughout.
func incremental(ctx context.Context, r *runner, job *flow.Job, p plan, c *counters, pebble bool) (int64, error) {
	p.control.updates.Store(false)
	if pebble {
		if err := r.waitForCompactions(ctx, job); err != nil {
			return 0, fmt.Errorf("wait for Pebble's compactions: %w", err)
		}
	}
	if _, err := job.Checkpoint(ctx); err != nil {
		return 0, err
	}
	changed := max(p.keys/100, 1)
	for range incrementalRounds {
		target := c.total(countUpdated) + changed
		p.control.burst.Add(changed)
		if err := r.waitFor(ctx, func() bool { return c.total(countUpdated) >= target }, maxCheckpointWait); err != nil {
			return 0, fmt.Errorf("wait for %d updates: %w", changed, err)
		}
		if _, err := job.Checkpoint(ctx); err != nil {
			return 0, err
		}
	}
	return changed, nil
}

// trigger takes a checkpoint every interval, or right after the last when that took
// longer, until the returned function is called; that returns the first failure.
func (r *runner) trigger(ctx context.Context, job *flow.Job, interval time.Duration) func() error {
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-r.done:
				done <- nil
				return
			case <-tick.C:
			}
			if _, err := job.Checkpoint(ctx); err != nil {
				done <- err
				return
			}
		}
	}()
	var once bool
	return func() error {
		if once {
			return nil
		}
		once = true
		close(stop)
		return <-done
	}
}

// fillTimeout bounds the fill generously: a 100 MB state of 100-byte values fills in
// about a second on two cores, this allows a minute and a second per MB.
func fillTimeout(stateBytes int64) time.Duration {
	return time.Minute + time.Duration(stateBytes/mb)*time.Second
}

// restoreResult is what a restoring run showed.
type restoreResult struct {
	recovery time.Duration
	// sampled events after the restore; missing of them found no value for their key.
	sampled, missing int64
}

// restoreSample is how many events after the restore are checked for their key's
// value, or as many as arrive in restoreSampleTime.
const (
	restoreSample     = 200_000
	restoreSampleTime = 2 * time.Second
)

// restore starts a new run of the job of p, which restores the latest complete
// checkpoint, and times it from the call of flow.Run to the first record a keyed
// subtask processes; then it checks that sampled keys have their values.
func restore(ctx context.Context, p plan) (restoreResult, error) {
	var out restoreResult
	job, c := newJob(p)
	t0 := time.Now()
	r := start(ctx, job)
	defer r.stop()
	if err := r.waitFor(ctx, func() bool { return c.first.Load() != 0 }, 10*time.Minute); err != nil {
		return out, fmt.Errorf("wait for the first record: %w", err)
	}
	out.recovery = time.Unix(0, c.first.Load()).Sub(t0)
	deadline := time.Now().Add(restoreSampleTime)
	if err := r.waitFor(ctx, func() bool { return c.total(countEvents) >= restoreSample || time.Now().After(deadline) }, time.Minute); err != nil {
		return out, err
	}
	out.sampled, out.missing = c.total(countEvents), c.total(countMissing)
	return out, r.stop()
}

// runner is a job running in its own goroutine.
type runner struct {
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
	stopped bool
}

func start(ctx context.Context, job *flow.Job) *runner {
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = flow.Run(ctx, job)
		close(r.done)
	}()
	return r
}

// stop cancels the job, waits for it to end and returns its failure, if any.
func (r *runner) stop() error {
	if r.stopped {
		return nil
	}
	r.stopped = true
	r.cancel()
	<-r.done
	if r.err != nil && !errors.Is(r.err, context.Canceled) {
		return r.err
	}
	return nil
}

// waitFor polls cond until it holds; it fails if the job ends, ctx ends or timeout
// passes first.
func (r *runner) waitFor(ctx context.Context, cond func() bool, timeout time.Duration) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-r.done:
			if r.err != nil {
				return r.err
			}
			return errors.New("the job ended by itself")
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("not done after %s", timeout)
		}
	}
	return nil
}

// sleep waits for d unless the job ends or ctx ends first.
func (r *runner) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-r.done:
		if r.err != nil {
			return r.err
		}
		return errors.New("the job ended by itself")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setIncremental takes the first checkpoint after the fill (which holds all the state
// it refers to) and the last incrementalRounds, each taken after changed keys were
// updated (which upload only what changed, with Pebble), from the checkpoints of the
// measured phase.
func (r *Result) setIncremental(cps []flow.CheckpointStatus, changed int64) {
	if len(cps) < incrementalRounds+2 || changed == 0 {
		return
	}
	first := cps[0]
	r.FirstCheckpointMs, r.FirstCheckpointBytes = ms(first.Duration), int64(first.Bytes)
	r.ChangedKeys = changed
	var durations []time.Duration
	var written []int
	for _, s := range cps[len(cps)-incrementalRounds:] {
		durations = append(durations, s.Duration)
		written = append(written, s.Bytes)
		r.IncrementalFullBytes = int64(s.FullBytes)
	}
	r.IncrementalMs, r.IncrementalBytes, r.IncrementalMaxBytes = ms(median(durations)), int64(median(written)), int64(slices.Max(written))
	r.IncrementalPercent = 100 * float64(r.IncrementalBytes) / float64(r.StateBytes)
	r.IncrementalMaxPercent = 100 * float64(r.IncrementalMaxBytes) / float64(r.StateBytes)
}

// setCheckpoints summarises the periodic checkpoints of the measured phase.
func (r *Result) setCheckpoints(cps []flow.CheckpointStatus) {
	r.Checkpoints = len(cps)
	if len(cps) == 0 {
		return
	}
	var durations, pauses []time.Duration
	var sizes []int
	for _, s := range cps {
		durations = append(durations, s.Duration)
		pauses = append(pauses, s.MaxPause)
		sizes = append(sizes, s.Bytes)
	}
	r.DurationP50Ms, r.DurationMaxMs = ms(median(durations)), ms(slices.Max(durations))
	r.PauseP50Ms, r.PauseMaxMs = ms(median(pauses)), ms(slices.Max(pauses))
	r.BytesPerCheckpoint = int64(median(sizes))
}

// median is the middle value, or the mean of the two middle values.
func median[T int | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// returnMemory collects the last job's state and returns the freed memory to the OS,
// so one case's peak does not carry into the next.
func returnMemory() { debug.FreeOSMemory() }

// diskUsage is what the files under dir take; 0 for no dir.
func diskUsage(dir string) int64 {
	if dir == "" {
		return 0
	}
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// heapInUse is the heap bytes in live and not yet swept objects, from MemStats.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
