// Package engine holds the runtime pieces of eddy's stream-processing jobs that do not
// depend on what a job computes: key groups, watermark tracking, timer queues, the
// messages that travel on edges, and the task runner. It does no network or disk I/O.
//
// The public API that builds jobs from these pieces is package flow.
package engine
