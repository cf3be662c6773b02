package wire

import "time"

// Builtin is a job compiled into the server that POST /v1/jobs can start.
type Builtin struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Args        []BuiltinArg `json:"args"`
}

// BuiltinArg is one argument a built-in job takes.
type BuiltinArg struct {
	Name     string `json:"name"`
	Help     string `json:"help"`
	Required bool   `json:"required"`
	// Default is used when the argument is not given; empty for none.
	Default string `json:"default,omitempty"`
}

// ListBuiltinsResponse is the body of GET /v1/builtins.
type ListBuiltinsResponse struct {
	Builtins []Builtin `json:"builtins"`
}

// StartJobRequest is the body of POST /v1/jobs: run the built-in job Builtin under Name.
type StartJobRequest struct {
	Name    string            `json:"name"`
	Builtin string            `json:"builtin"`
	Args    map[string]string `json:"args,omitempty"`
	// FromSavepoint starts the job from a savepoint path instead of its latest checkpoint.
	FromSavepoint string `json:"fromSavepoint,omitempty"`
}

// SavepointResponse is the body of POST /v1/jobs/{name}/savepoint.
type SavepointResponse struct {
	Savepoint string `json:"savepoint"`
}

// The states of a job, the values of State in JobSummary and JobDescription.
const (
	JobCreated  = "CREATED"
	JobRunning  = "RUNNING"
	JobFinished = "FINISHED"
	JobFailed   = "FAILED"
	JobCanceled = "CANCELED"
)

// JobSummary is one job in a list.
type JobSummary struct {
	Name    string    `json:"name"`
	Builtin string    `json:"builtin"`
	State   string    `json:"state"`
	Started time.Time `json:"started,omitzero"`
	// Operators counts the vertices of the job graph.
	Operators int `json:"operators"`
	// RecordsIn counts what the job's sources (operators without an incoming edge) read;
	// RecordsOut what its last operators (without an outgoing edge) emitted or wrote.
	RecordsIn  int64 `json:"recordsIn"`
	RecordsOut int64 `json:"recordsOut"`
}

// ListJobsResponse is the body of GET /v1/jobs.
type ListJobsResponse struct {
	Jobs []JobSummary `json:"jobs"`
}

// JobDescription is the body of GET /v1/jobs/{name} and of the calls that start or stop
// a job: its settings, its graph and what each operator subtask has done.
type JobDescription struct {
	Name     string            `json:"name"`
	Builtin  string            `json:"builtin"`
	Args     map[string]string `json:"args"`
	State    string            `json:"state"`
	Started  time.Time         `json:"started,omitzero"`
	Finished time.Time         `json:"finished,omitzero"`
	// Error says why a FAILED job failed, or why the last run of a restarted job did.
	Error string `json:"error,omitempty"`
	// Restarts counts how often the job failed and the server started it again from its
	// latest checkpoint.
	Restarts  int        `json:"restarts"`
	Operators []Operator `json:"operators"`
	Edges     []Edge     `json:"edges"`
}

// Operator is a vertex of a job graph: an operator with the operators chained into its
// subtasks.
type Operator struct {
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	// Chained lists the operators that run inside this one's subtasks, in order.
	Chained []string `json:"chained"`
	// Subtasks is empty until the job runs.
	Subtasks []Subtask `json:"subtasks"`
}

// Edge connects two operators; Partitioning is "hash", "rebalance" or "broadcast".
type Edge struct {
	From         string `json:"from"`
	To           string `json:"to"`
	Partitioning string `json:"partitioning"`
}

// Subtask is what one parallel instance of an operator has done since the job started.
type Subtask struct {
	Index      int   `json:"index"`
	RecordsIn  int64 `json:"recordsIn"`
	RecordsOut int64 `json:"recordsOut"`
	// The rates cover the time since the server's previous sample of the job (at least a
	// second earlier); before there is one, the time since the job started.
	RecordsInPerSecond  float64 `json:"recordsInPerSecond"`
	RecordsOutPerSecond float64 `json:"recordsOutPerSecond"`
	// Watermark is the subtask's event-time progress: no record with an earlier event
	// time is still to come. It is null before the first watermark and once the input has
	// ended (InputEnded).
	Watermark *time.Time `json:"watermark"`
	// WatermarkLagMillis is the wall clock minus Watermark, when there is a Watermark.
	WatermarkLagMillis *int64 `json:"watermarkLagMillis"`
	// InputEnded says every input of the subtask is exhausted: the watermark has passed
	// all event times.
	InputEnded bool `json:"inputEnded,omitempty"`
	// The fractions split the same span as the rates: working, waiting for input, and
	// waiting for a full downstream channel; they add up to 1.
	BusyFraction          float64 `json:"busyFraction"`
	IdleFraction          float64 `json:"idleFraction"`
	BackpressuredFraction float64 `json:"backpressuredFraction"`
	// The totals since the subtask started, in milliseconds.
	BusyMillis          int64 `json:"busyMillis"`
	IdleMillis          int64 `json:"idleMillis"`
	BackpressuredMillis int64 `json:"backpressuredMillis"`
	// StateEntries counts keyed and broadcast state entries and open windows.
	StateEntries int64 `json:"stateEntries"`
}

// CheckpointCompleted is the Status of a checkpoint whose snapshots are all written and
// whose completion marker is in the checkpoint store: a restart can resume from it.
const CheckpointCompleted = "COMPLETED"

// Checkpoint is one checkpoint of a job: a consistent snapshot of its state and source
// positions.
type Checkpoint struct {
	ID        int64     `json:"id"`
	Triggered time.Time `json:"triggered"`
	// DurationMillis is the time from the trigger until the checkpoint completed.
	DurationMillis int64 `json:"durationMillis"`
	// MaxPauseMillis is the longest any subtask stopped processing to take its snapshot.
	MaxPauseMillis int64 `json:"maxPauseMillis"`
	// Bytes is the size of the snapshots the checkpoint wrote.
	Bytes  int64  `json:"bytes"`
	Status string `json:"status"`
}

// ListCheckpointsResponse is the body of GET /v1/jobs/{name}/checkpoints: the newest
// checkpoints the job's current run completed, newest first, at most
// MaxListedCheckpoints of them.
type ListCheckpointsResponse struct {
	Checkpoints []Checkpoint `json:"checkpoints"`
	// Latest is the newest checkpoint, null before the first completes.
	Latest *Checkpoint `json:"latest"`
}

// MaxListedCheckpoints is how many checkpoints ListCheckpointsResponse holds at most.
const MaxListedCheckpoints = 100
