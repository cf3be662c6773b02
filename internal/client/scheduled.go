package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/eddy-streams/eddy/internal/server/wire"
)

func scheduledQueryPath(name string) string { return "/v1/scheduled-queries/" + url.PathEscape(name) }

// CreateScheduledQuery creates a scheduled query.
func (c *Client) CreateScheduledQuery(ctx context.Context, req wire.CreateScheduledQueryRequest) (wire.ScheduledQuery, error) {
	var out wire.ScheduledQuery
	err := c.call(ctx, http.MethodPost, "/v1/scheduled-queries", req, &out)
	return out, err
}

// ListScheduledQueries lists every scheduled query, sorted by name.
func (c *Client) ListScheduledQueries(ctx context.Context) ([]wire.ScheduledQuery, error) {
	var out wire.ListScheduledQueriesResponse
	err := c.call(ctx, http.MethodGet, "/v1/scheduled-queries", nil, &out)
	return out.ScheduledQueries, err
}

// DescribeScheduledQuery returns a scheduled query's definition and status.
func (c *Client) DescribeScheduledQuery(ctx context.Context, name string) (wire.ScheduledQuery, error) {
	var out wire.ScheduledQuery
	err := c.call(ctx, http.MethodGet, scheduledQueryPath(name), nil, &out)
	return out, err
}

// UpdateScheduledQuery changes what req gives and leaves the rest.
func (c *Client) UpdateScheduledQuery(ctx context.Context, name string, req wire.UpdateScheduledQueryRequest) (wire.ScheduledQuery, error) {
	var out wire.ScheduledQuery
	err := c.call(ctx, http.MethodPatch, scheduledQueryPath(name), req, &out)
	return out, err
}

// DeleteScheduledQuery deletes a scheduled query; what it wrote stays in its target.
func (c *Client) DeleteScheduledQuery(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, scheduledQueryPath(name), nil, nil)
}

// RunScheduledQuery runs the invocation of a scheduled query at invocationTime and
// returns once it has ended. A nil error means the run happened, not that it succeeded:
// check the run's Error.
func (c *Client) RunScheduledQuery(ctx context.Context, name string, invocationTime time.Time) (wire.ScheduledQueryRun, error) {
	var out wire.ScheduledQueryRun
	err := c.call(ctx, http.MethodPost, scheduledQueryPath(name)+"/runs", wire.RunScheduledQueryRequest{InvocationTime: invocationTime}, &out)
	return out, err
}
