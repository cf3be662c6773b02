package flow

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/engine"
)

// JobStatus is a snapshot of a job: its graph and, per operator subtask, what it has done.
type JobStatus struct {
	Name      string
	State     JobState
	Started   time.Time
	Finished  time.Time
	Error     string
	Operators []OperatorStatus
	Edges     []EdgeStatus
}

// JobState is where a job is in its life.
type JobState string

// The states of a job.
const (
	JobCreated  JobState = "CREATED"
	JobRunning  JobState = "RUNNING"
	JobFinished JobState = "FINISHED"
	JobFailed   JobState = "FAILED"
	JobCanceled JobState = "CANCELED"
)

// OperatorStatus describes one operator (a vertex of the graph, with the operators chained
// into it) and its subtasks.
type OperatorStatus struct {
	Name        string
	Parallelism int
	// Chained lists the operators that run in the same subtasks, in order.
	Chained  []string
	Subtasks []SubtaskStatus
}

// EdgeStatus is a connection between two operators.
type EdgeStatus struct {
	From, To string
	// Partitioning is "hash", "rebalance" or "broadcast".
	Partitioning string
}

// SubtaskStatus is what one subtask has done since the job started.
type SubtaskStatus struct {
	RecordsIn  int64
	RecordsOut int64
	// Watermark is the subtask's event time (Unix ms); engine.MinWatermark before any.
	Watermark int64
	// Busy, Idle and Backpressured split the subtask's time: working, waiting for input,
	// and waiting for a full downstream channel.
	Busy, Idle, Backpressured time.Duration
	// StateEntries counts the keyed and broadcast state entries (heap state only) and
	// open windows.
	StateEntries int64
	// StateBytes is what the subtask's Pebble state takes on disk, StateCompactionDebt
	// what Pebble estimates its compactions have yet to rewrite (while it is large, after
	// a burst of writes, reads look through more files), and StateCompactions how many
	// compactions are running. All are 0 with heap state.
	StateBytes, StateCompactionDebt, StateCompactions int64
}

// subtaskMetrics is written by the subtask's goroutine and read by Status.
type subtaskMetrics struct {
	recordsIn, recordsOut atomic.Int64
	watermark             atomic.Int64
	idleNs, backNs        atomic.Int64
	stateEntries          atomic.Int64
	stateBytes, stateDebt atomic.Int64
	stateCompactions      atomic.Int64
	started               time.Time
	finished              atomic.Int64 // Unix ns, 0 while running
}

func newSubtaskMetrics() *subtaskMetrics {
	m := &subtaskMetrics{started: time.Now()}
	m.watermark.Store(engine.MinWatermark)
	return m
}

func (m *subtaskMetrics) snapshot() SubtaskStatus {
	end := time.Now()
	if f := m.finished.Load(); f != 0 {
		end = time.Unix(0, f)
	}
	total := end.Sub(m.started)
	idle, back := time.Duration(m.idleNs.Load()), time.Duration(m.backNs.Load())
	return SubtaskStatus{
		RecordsIn: m.recordsIn.Load(), RecordsOut: m.recordsOut.Load(), Watermark: m.watermark.Load(),
		Busy: max(total-idle-back, 0), Idle: idle, Backpressured: back, StateEntries: m.stateEntries.Load(),
		StateBytes: m.stateBytes.Load(), StateCompactionDebt: m.stateDebt.Load(),
		StateCompactions: m.stateCompactions.Load(),
	}
}

// jobRun is the observable side of a running job.
type jobRun struct {
	mu       sync.Mutex
	state    JobState
	started  time.Time
	finished time.Time
	err      string
	metrics  map[*vertex][]*subtaskMetrics
}

// Status returns a snapshot of the job; it is safe to call while the job runs.
func (j *Job) Status() JobStatus {
	j.statusMu.Lock()
	r := j.current
	j.statusMu.Unlock()
	st := JobStatus{Name: j.name, State: JobCreated}
	st.Edges = append(st.Edges, j.edges...)
	var metrics map[*vertex][]*subtaskMetrics
	if r != nil {
		r.mu.Lock()
		st.State, st.Started, st.Finished, st.Error = r.state, r.started, r.finished, r.err
		metrics = r.metrics
		r.mu.Unlock()
	}
	for _, v := range j.vertices {
		op := OperatorStatus{Name: v.name, Parallelism: v.parallelism, Chained: v.chained}
		for _, m := range metrics[v] {
			op.Subtasks = append(op.Subtasks, m.snapshot())
		}
		st.Operators = append(st.Operators, op)
	}
	return st
}
