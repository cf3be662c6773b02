package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func jobPath(name string) string { return "/v1/jobs/" + url.PathEscape(name) }

// ListBuiltins lists the built-in jobs the server can start, with their arguments.
func (c *Client) ListBuiltins(ctx context.Context) ([]wire.Builtin, error) {
	var out wire.ListBuiltinsResponse
	err := c.call(ctx, http.MethodGet, "/v1/builtins", nil, &out)
	return out.Builtins, err
}

// StartJob starts a built-in job under a name.
func (c *Client) StartJob(ctx context.Context, req wire.StartJobRequest) (wire.JobDescription, error) {
	var out wire.JobDescription
	err := c.call(ctx, http.MethodPost, "/v1/jobs", req, &out)
	return out, err
}

// ListJobs lists every job the server has run since it started, sorted by name.
func (c *Client) ListJobs(ctx context.Context) ([]wire.JobSummary, error) {
	var out wire.ListJobsResponse
	err := c.call(ctx, http.MethodGet, "/v1/jobs", nil, &out)
	return out.Jobs, err
}

// DescribeJob describes a job: its graph and what each operator subtask has done.
func (c *Client) DescribeJob(ctx context.Context, name string) (wire.JobDescription, error) {
	var out wire.JobDescription
	err := c.call(ctx, http.MethodGet, jobPath(name), nil, &out)
	return out, err
}

// ListCheckpoints lists the newest checkpoints a job's current run completed, newest
// first, and the latest one.
func (c *Client) ListCheckpoints(ctx context.Context, job string) (wire.ListCheckpointsResponse, error) {
	var out wire.ListCheckpointsResponse
	err := c.call(ctx, http.MethodGet, jobPath(job)+"/checkpoints", nil, &out)
	return out, err
}

// StopJob stops a job, waits until every subtask has stopped and returns the final
// description.
func (c *Client) StopJob(ctx context.Context, name string) (wire.JobDescription, error) {
	var out wire.JobDescription
	err := c.call(ctx, http.MethodPost, jobPath(name)+"/stop", nil, &out)
	return out, err
}

// Savepoint takes a savepoint of a running job and returns its path.
func (c *Client) Savepoint(ctx context.Context, name string) (string, error) {
	var out wire.SavepointResponse
	err := c.call(ctx, http.MethodPost, jobPath(name)+"/savepoint", nil, &out)
	return out.Savepoint, err
}
