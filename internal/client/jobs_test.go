package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

func TestJobLifecycle(t *testing.T) {
	env := servertest.StartJobs(t, servertest.JobsOptions{})
	c := client.New(env.URL, env.Token, nil)
	ctx := context.Background()

	builtins, err := c.ListBuiltins(ctx)
	if err != nil || len(builtins) == 0 || len(builtins[0].Args) == 0 {
		t.Fatalf("builtins: %+v %v", builtins, err)
	}
	if _, err := c.CreateStream(ctx, wire.CreateStreamRequest{Name: "in"}); err != nil {
		t.Fatal(err)
	}
	d, err := c.StartJob(ctx, wire.StartJobRequest{Name: "copy", Builtin: "stream-filter", Args: map[string]string{"from": "in", "to": "out", "contains": "x"}})
	if err != nil || d.Name != "copy" || !strings.HasPrefix(d.Args["start"], "AT_TIMESTAMP:") || len(d.Operators) != 1 {
		t.Fatalf("start: %+v %v", d, err)
	}
	list, err := c.ListJobs(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "copy" || list[0].Builtin != "stream-filter" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if d, err = c.DescribeJob(ctx, "copy"); err != nil || d.Name != "copy" {
		t.Fatalf("describe: %+v %v", d, err)
	}
	// This server keeps no checkpoints.
	if cps, err := c.ListCheckpoints(ctx, "copy"); err != nil || cps.Checkpoints == nil || len(cps.Checkpoints) != 0 || cps.Latest != nil {
		t.Fatalf("checkpoints: %+v %v", cps, err)
	}
	var e *apierr.Error
	if _, err := c.ListCheckpoints(ctx, "ghost"); !errors.As(err, &e) || e.Code != "JobNotFound" {
		t.Fatalf("checkpoints of a job that does not exist: %#v", err)
	}
	if d, err = c.StopJob(ctx, "copy"); err != nil || d.State != wire.JobCanceled {
		t.Fatalf("stop: %+v %v", d, err)
	}
	_, err = c.StopJob(ctx, "a/b")
	if !errors.As(err, &e) || e.Code != "JobNotFound" || e.Kind != apierr.NotFound {
		t.Fatalf("stop a job that does not exist: %#v", err)
	}
}
