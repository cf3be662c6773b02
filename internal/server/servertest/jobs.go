package servertest

import (
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/auth"
	"github.com/eddy-streams/eddy/internal/jobs"
	"github.com/eddy-streams/eddy/internal/server"
)

// JobsEnv is a running server that also runs built-in jobs.
type JobsEnv struct {
	*Env
	Jobs *jobs.Manager
}

// JobsOptions adjust the server StartJobs starts.
type JobsOptions struct {
	Options
	// Checkpoints, when set, is where every job checkpoints, every CheckpointInterval
	// (default 10 s).
	Checkpoints        flow.CheckpointStore
	CheckpointInterval time.Duration
}

// StartJobs starts a server as StartWith does whose API also runs the built-in jobs
// (jobs.Builtins) with a real jobs.Manager; the jobs stop when the test ends, before the
// streams service closes.
//
// The server is a second API server over the environment StartWith made, with its own
// metrics registry (Env.Registry), so /metrics shows its HTTP and job metrics but not
// the streams service's.
func StartJobs(tb testing.TB, opts JobsOptions) *JobsEnv {
	tb.Helper()
	env := StartWith(tb, opts.Options)
	tokens, err := auth.Open(env.DataDir)
	if err != nil {
		tb.Fatal(err)
	}
	m := jobs.NewManager(jobs.Env{
		Streams: env.Streams, Logger: slog.New(slog.DiscardHandler),
		Checkpoints: opts.Checkpoints, CheckpointInterval: opts.CheckpointInterval,
	}, jobs.Builtins()...)
	reg := prometheus.NewRegistry()
	srv := server.New(server.Options{Streams: env.Streams, Jobs: m, Auth: tokens, Registerer: reg, Gatherer: reg})
	hs := httptest.NewServer(srv.Handler())
	// Cleanups run last-registered first: this one before StartWith's closes the service.
	tb.Cleanup(func() {
		srv.Drain()
		hs.Close()
		m.Close(10 * time.Second)
	})
	withJobs := *env
	withJobs.URL, withJobs.Server, withJobs.Registry = hs.URL, srv, reg
	return &JobsEnv{Env: &withJobs, Jobs: m}
}
