// Package flowtest holds helpers for tests of jobs and connectors.
package flowtest

import (
	"context"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// CrashAfterCheckpoints runs job until it has completed n checkpoints, then cancels it,
// as a crash would stop it: what the sinks committed and the checkpoints are what a
// restarted job finds.
func CrashAfterCheckpoints(t testing.TB, job *flow.Job, n int) {
	t.Helper()
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- flow.Run(ctx, job) }()
	for len(job.Checkpoints()) < n {
		select {
		case err := <-done:
			crash()
			t.Fatalf("job ended before %d checkpoints: %v", n, err)
		case <-time.After(time.Millisecond):
		}
	}
	crash()
	<-done
}
