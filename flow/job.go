package flow

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// Job is a dataflow graph under construction, then a running job.
type Job struct {
	name     string
	opts     JobOptions
	vertices []*vertex
	edges    []EdgeStatus
	errs     []error
	names    map[string]bool

	statusMu    sync.Mutex
	current     *jobRun
	checkpoints *checkpointStats
	coordinator *coordinator
}

// JobOptions tune a job; the zero value picks the defaults.
type JobOptions struct {
	// Parallelism is the default number of subtasks of keyed operators (default 1).
	Parallelism int
	// MaxParallelism is the number of key groups, the most subtasks a keyed operator can be
	// rescaled to (default 128).
	MaxParallelism int
	// BatchSize is how many records travel in one message between subtasks (default 512).
	BatchSize int
	// ChannelCapacity is how many batches an edge buffers per receiving subtask before the
	// sender blocks (default 8).
	ChannelCapacity int
	// Clock gives processing time; tests substitute a controllable one.
	Clock Clock
	// ProcessingTimeTick is how often processing-time timers are checked (default 10 ms).
	ProcessingTimeTick time.Duration
	// BufferTimeout bounds how long a record may wait in a partly filled batch before
	// the batch is sent anyway (default 100 ms): the latency a quiet stream pays for
	// batching.
	BufferTimeout time.Duration
	// Checkpoints, when set, saves the job's state periodically and restores it at start.
	Checkpoints *CheckpointOptions
	// StateBackend is where keyed state lives: HeapBackend (the default) or
	// PebbleBackend for state larger than memory.
	StateBackend StateBackend
}

// Clock tells processing time in Unix milliseconds.
type Clock interface{ NowMillis() int64 }

type wallClock struct{}

func (wallClock) NowMillis() int64 { return time.Now().UnixMilli() }

// NewJob starts building a job.
func NewJob(name string, opts ...JobOptions) *Job {
	j := &Job{name: name, names: map[string]bool{}}
	if len(opts) > 0 {
		j.opts = opts[0]
	}
	o := &j.opts
	if o.Parallelism <= 0 {
		o.Parallelism = 1
	}
	if o.MaxParallelism <= 0 {
		o.MaxParallelism = engine.DefaultMaxParallelism
	}
	if o.Parallelism > o.MaxParallelism {
		j.fail(fmt.Errorf("parallelism %d exceeds max parallelism %d", o.Parallelism, o.MaxParallelism))
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.ChannelCapacity <= 0 {
		o.ChannelCapacity = 8
	}
	if o.Clock == nil {
		o.Clock = wallClock{}
	}
	if o.ProcessingTimeTick <= 0 {
		o.ProcessingTimeTick = 10 * time.Millisecond
	}
	if o.BufferTimeout <= 0 {
		o.BufferTimeout = 100 * time.Millisecond
	}
	if o.StateBackend == nil {
		o.StateBackend = HeapBackend()
	}
	if err := validateBackend(o); err != nil {
		j.fail(err)
	}
	if c := o.Checkpoints; c != nil {
		if c.Store == nil {
			j.fail(errors.New("checkpoints need a store"))
		}
		if c.Interval <= 0 {
			c.Interval = 10 * time.Second
		}
		if c.Retained <= 0 {
			c.Retained = 3
		}
		if c.Timeout <= 0 {
			c.Timeout = 10 * time.Minute
		}
	}
	return j
}

// Name is the job's name.
func (j *Job) Name() string { return j.name }

func (j *Job) fail(err error) { j.errs = append(j.errs, err) }

// vertex is a group of parallel subtasks, each one goroutine running a source or an input
// loop followed by a chain of operators.
type vertex struct {
	name        string
	parallelism int
	// prepare allocates the vertex's input channels before any subtask is built.
	prepare func(capacity int)
	// task returns the function subtask i runs.
	task func(r *run, i int) func() error
	// sides are the side-output streams of the vertex's operators, by tag name.
	sides map[string]sideBuilder
	// chained names the operators that run inside the vertex's subtasks.
	chained []string
	// metrics of the current run, one per subtask
	metrics []*subtaskMetrics
	// source says the vertex starts with a source; index and sourceIndex number its
	// first subtask among all subtasks and all source subtasks of the job.
	source             bool
	index, sourceIndex int
}

// logf reports through the checkpoint options' Logf, if any.
func (j *Job) logf(format string, args ...any) {
	if c := j.opts.Checkpoints; c != nil && c.Logf != nil {
		c.Logf(format, args...)
	}
}

func (j *Job) addEdge(from, to *vertex, partitioning string) {
	j.edges = append(j.edges, EdgeStatus{From: from.name, To: to.name, Partitioning: partitioning})
}

func (j *Job) addVertex(name string, parallelism int) *vertex {
	if j.names[name] {
		j.fail(fmt.Errorf("two operators are named %q: operator names must be unique in a job", name))
	}
	j.names[name] = true
	v := &vertex{name: name, parallelism: parallelism}
	j.vertices = append(j.vertices, v)
	return v
}

// run is one execution of a job.
type run struct {
	job  *Job
	ctx  context.Context
	done <-chan struct{}
	// cp coordinates checkpoints, nil when they are off; restored is the checkpoint the
	// run started from, by operator.
	cp       *coordinator
	restored map[string]*restoredVertex

	// closers release what sinks hold (files, clients) when a run ends without their
	// input ending: cancelled or failed.
	closersMu sync.Mutex
	closers   []func()
}

func (r *run) onClose(f func()) {
	r.closersMu.Lock()
	r.closers = append(r.closers, f)
	r.closersMu.Unlock()
}

// errAborted unwinds a subtask whose job was cancelled while it waited to send.
var errAborted = errors.New("job aborted")

// Run executes the job until its sources are exhausted and every record has reached the
// sinks, or until ctx ends or an operator fails. The first failure stops every subtask.
func Run(ctx context.Context, j *Job) error {
	if len(j.errs) > 0 {
		err := fmt.Errorf("job %q: %w", j.name, errors.Join(j.errs...))
		j.statusMu.Lock()
		j.current = &jobRun{state: JobFailed, started: time.Now(), finished: time.Now(), err: err.Error()}
		j.statusMu.Unlock()
		return err
	}
	if len(j.vertices) == 0 {
		return fmt.Errorf("job %q has no operators", j.name)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &run{job: j, ctx: ctx, done: ctx.Done()}
	obs := &jobRun{state: JobRunning, started: time.Now(), metrics: map[*vertex][]*subtaskMetrics{}}
	for _, v := range j.vertices {
		v.metrics = make([]*subtaskMetrics, v.parallelism)
		for i := range v.metrics {
			v.metrics[i] = newSubtaskMetrics()
		}
		obs.metrics[v] = v.metrics
	}
	j.statusMu.Lock()
	j.current = obs
	j.statusMu.Unlock()
	if err := j.prepareCheckpoints(r); err != nil {
		return fmt.Errorf("job %q: %w", j.name, err)
	}
	for _, v := range j.vertices {
		if v.prepare != nil {
			v.prepare(j.opts.ChannelCapacity)
		}
	}
	var tasks []func() error
	var names []string
	var taskMetrics []*subtaskMetrics
	for _, v := range j.vertices {
		for i := 0; i < v.parallelism; i++ {
			name := fmt.Sprintf("%s[%d]", v.name, i)
			var task func() error
			if err := protect(func() error { task = v.task(r, i); return nil }); err != nil {
				obs.mu.Lock()
				obs.state, obs.err = JobFailed, err.Error()
				obs.mu.Unlock()
				for _, f := range r.closers {
					f()
				}
				return fmt.Errorf("job %q: start %s: %w", j.name, name, err)
			}
			tasks = append(tasks, task)
			names = append(names, name)
			taskMetrics = append(taskMetrics, v.metrics[i])
		}
	}
	var wg sync.WaitGroup
	finish := func(err error) error {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		obs.finished = time.Now()
		switch {
		case err == nil:
			obs.state = JobFinished
		case errors.Is(err, context.Canceled):
			obs.state = JobCanceled
		default:
			obs.state, obs.err = JobFailed, err.Error()
		}
		return err
	}
	if r.cp != nil {
		go r.cp.run(ctx, func(err error) { cancel(err) })
	}
	for k, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				taskMetrics[k].finished.Store(time.Now().UnixNano())
				if r.cp != nil {
					r.cp.finishOnce.Do(func() { close(r.cp.finished) })
				}
			}()
			if err := protect(task); err != nil {
				cancel(fmt.Errorf("%s: %w", names[k], err))
			}
		}()
	}
	wg.Wait()
	for _, f := range r.closers {
		f()
	}
	if cause := context.Cause(ctx); cause != nil {
		return finish(fmt.Errorf("job %q: %w", j.name, cause))
	}
	return finish(nil)
}

// protect runs task, turning a panic in user code into an error.
func protect(task func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == errAborted {
				err = nil
				return
			}
			if f, ok := p.(failure); ok {
				err = f.err
				return
			}
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return task()
}
