package wire

import "time"

// ScheduledQueryTarget is where a scheduled query's rows go and how each becomes a
// multi-measure record.
type ScheduledQueryTarget struct {
	Database string `json:"database"`
	Table    string `json:"table"`
	// TimeColumn is the result's TIMESTAMP column giving each record its time; empty
	// means "time".
	TimeColumn string `json:"timeColumn,omitempty"`
	// Dimensions are the result's VARCHAR columns that become dimensions; null or left
	// out, every VARCHAR column but the time column; [] none. The other columns are
	// measures.
	Dimensions []string `json:"dimensions"`
	// MeasureName names the records; empty means the scheduled query's name.
	MeasureName string `json:"measureName,omitempty"`
}

// CreateScheduledQueryRequest is the body of POST /v1/scheduled-queries.
type CreateScheduledQueryRequest struct {
	Name string `json:"name"`
	// Query is one SELECT; @scheduled_runtime in it becomes each invocation's time.
	Query string `json:"query"`
	// Schedule is a Go duration ("1h", "5m") or a rate expression ("rate(1 hour)").
	Schedule string               `json:"schedule"`
	Target   ScheduledQueryTarget `json:"target"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
}

// UpdateScheduledQueryRequest is the body of PATCH /v1/scheduled-queries/{name}; each
// field given is applied, and at least one must be.
type UpdateScheduledQueryRequest struct {
	Enabled  *bool   `json:"enabled,omitempty"`
	Schedule *string `json:"schedule,omitempty"`
	Query    *string `json:"query,omitempty"`
}

// RunScheduledQueryRequest is the body of POST /v1/scheduled-queries/{name}/runs.
type RunScheduledQueryRequest struct {
	// InvocationTime is the value @scheduled_runtime takes.
	InvocationTime time.Time `json:"invocationTime"`
}

// ScheduledQueryRun is the outcome of one invocation of a scheduled query, the body of
// POST /v1/scheduled-queries/{name}/runs.
type ScheduledQueryRun struct {
	InvocationTime time.Time `json:"invocationTime"`
	// Manual is true for a run asked for through the API, false for the schedule's.
	Manual         bool      `json:"manual"`
	StartedAt      time.Time `json:"startedAt"`
	DurationMillis int64     `json:"durationMs"`
	// Version is the version of the records the run wrote.
	Version int64 `json:"version"`
	// RowsWritten counts the records the target table holds now; RowsSkipped the result
	// rows without a time or without a non-null measure; RowsRejected the records the
	// table refused, the first few of whose reasons are in Rejections.
	RowsWritten  int64    `json:"rowsWritten"`
	RowsSkipped  int64    `json:"rowsSkipped"`
	RowsRejected int64    `json:"rowsRejected"`
	Rejections   []string `json:"rejections,omitempty"`
	// Error says why the run failed; absent if it succeeded.
	Error string `json:"error,omitempty"`
}

// ScheduledQuery is the body of GET /v1/scheduled-queries/{name} and of the calls that
// create or change one.
type ScheduledQuery struct {
	Name     string `json:"name"`
	Query    string `json:"query"`
	Schedule string `json:"schedule"`
	// IntervalSeconds is the schedule's period; invocations fall on its multiples since
	// the Unix epoch.
	IntervalSeconds int64                `json:"intervalSeconds"`
	Target          ScheduledQueryTarget `json:"target"`
	Enabled         bool                 `json:"enabled"`
	CreatedAt       time.Time            `json:"createdAt"`
	UpdatedAt       time.Time            `json:"updatedAt"`
	// LastScheduledInvocation is the latest invocation the schedule started; before its
	// first, the one at or before the creation (or the last enabling or change of
	// schedule), which the schedule does not run.
	LastScheduledInvocation *time.Time `json:"lastScheduledInvocation,omitempty"`
	// NextInvocation is when the schedule runs it next; absent when disabled.
	NextInvocation *time.Time `json:"nextInvocation,omitempty"`
	// LastRun is the latest run, scheduled or manual.
	LastRun *ScheduledQueryRun `json:"lastRun,omitempty"`
}

// ListScheduledQueriesResponse is the body of GET /v1/scheduled-queries.
type ListScheduledQueriesResponse struct {
	ScheduledQueries []ScheduledQuery `json:"scheduledQueries"`
}
