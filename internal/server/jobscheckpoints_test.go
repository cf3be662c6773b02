package server

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/server/wire"
)

// A long-running job has completed more checkpoints than a response holds: it lists the
// newest, newest first.
func TestListCheckpointsKeepsTheNewest(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	var all []flow.CheckpointStatus
	for id := int64(1); id <= 150; id++ {
		all = append(all, flow.CheckpointStatus{
			ID: id, Trigger: start.Add(time.Duration(id) * time.Second),
			Duration: 1500*time.Microsecond + time.Duration(id)*time.Millisecond, MaxPause: 999 * time.Microsecond, Bytes: int(id) * 10,
		})
	}
	out := listCheckpoints(all)
	if len(out.Checkpoints) != wire.MaxListedCheckpoints {
		t.Fatalf("listed %d checkpoints, want %d", len(out.Checkpoints), wire.MaxListedCheckpoints)
	}
	if first, last := out.Checkpoints[0], out.Checkpoints[len(out.Checkpoints)-1]; first.ID != 150 || last.ID != 51 {
		t.Fatalf("listed checkpoints %d to %d, want 150 to 51", first.ID, last.ID)
	}
	want := wire.Checkpoint{ID: 150, Triggered: start.Add(150 * time.Second).UTC(), DurationMillis: 151, MaxPauseMillis: 0, Bytes: 1500, Status: wire.CheckpointCompleted}
	if out.Latest == nil || *out.Latest != want || out.Checkpoints[0] != want {
		t.Fatalf("latest %+v, first %+v, want %+v", out.Latest, out.Checkpoints[0], want)
	}

	if none := listCheckpoints(nil); none.Checkpoints == nil || len(none.Checkpoints) != 0 || none.Latest != nil {
		t.Fatalf("no checkpoints: %+v", none)
	}
}
