package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/verify"
)

// TestKill9JobIsExactlyOnce runs a keyed running count as a job in the real server,
// feeds it through a stream, kills the server with SIGKILL while records flow (at random
// moments, right after checkpoints complete and inside checkpoints) and restarts it each
// time: the job resumes from its latest checkpoint. At the end the output stream must
// hold, for every key, the counts 1..n exactly once: no duplicate, no gap.
func TestKill9JobIsExactlyOnce(t *testing.T) {
	cfg := verify.Config{
		Binary:             binary(t, "github.com/eddy-streams/eddy/cmd/eddy", "eddy"),
		Kills:              9,
		Events:             8000,
		Keys:               20,
		CheckpointInterval: 150 * time.Millisecond,
		DataDir:            t.TempDir(),
		Log:                testLog{t},
	}
	rep, err := verify.ExactlyOnce(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass {
		t.Fatalf("the output is not exactly-once:\n%s", rep)
	}
	t.Log(rep)
	if len(rep.Kills) != cfg.Kills || rep.Events != cfg.Events {
		t.Fatalf("%d kills and %d events fed, want %d and %d", len(rep.Kills), rep.Events, cfg.Kills, cfg.Events)
	}
}

// TestKill9WindowsAndJoinAreExactlyOnce runs sliding and session windows and an
// interval join, all timed by the records' arrival, through a few SIGKILLs: the output
// must be exactly the windows and pairs computed by brute force from the input.
func TestKill9WindowsAndJoinAreExactlyOnce(t *testing.T) {
	bin := binary(t, "github.com/eddy-streams/eddy/cmd/eddy", "eddy")
	for _, job := range []string{verify.SlidingCount, verify.SessionCount, verify.IntervalJoin} {
		t.Run(job, func(t *testing.T) {
			cfg := verify.Config{
				Binary:             bin,
				Job:                job,
				Kills:              3,
				Events:             4000,
				Keys:               10,
				CheckpointInterval: 150 * time.Millisecond,
				DataDir:            t.TempDir(),
				Log:                testLog{t},
			}
			rep, err := verify.ExactlyOnce(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				t.Fatalf("the output is not exactly-once:\n%s", rep)
			}
			t.Log(rep)
			if len(rep.Kills) != cfg.Kills || rep.Events != cfg.Events || rep.Expected == 0 {
				t.Fatalf("%d kills, %d events fed, %d records expected; want %d and %d", len(rep.Kills), rep.Events, rep.Expected, cfg.Kills, cfg.Events)
			}
		})
	}
}

// TestKill9KafkaSinkIsExactlyOnce runs the keyed running count with the exactly-once
// Kafka sink, writing to a Kafka cluster in the test process, through a few SIGKILLs of
// the server: a read_committed consumer of the topic must see, for every key, the counts
// 1..n exactly once.
func TestKill9KafkaSinkIsExactlyOnce(t *testing.T) {
	cfg := verify.Config{
		Binary:             binary(t, "github.com/eddy-streams/eddy/cmd/eddy", "eddy"),
		Job:                verify.RunningCountKafka,
		Kills:              3,
		Events:             4000,
		Keys:               10,
		CheckpointInterval: 150 * time.Millisecond,
		DataDir:            t.TempDir(),
		Log:                testLog{t},
	}
	rep, err := verify.ExactlyOnce(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pass {
		t.Fatalf("the output is not exactly-once:\n%s", rep)
	}
	t.Log(rep)
	if len(rep.Kills) != cfg.Kills || rep.Events != cfg.Events || rep.Output != cfg.Events {
		t.Fatalf("%d kills, %d events fed, %d output records; want %d and %d", len(rep.Kills), rep.Events, rep.Output, cfg.Kills, cfg.Events)
	}
}

// testLog writes each progress line to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
