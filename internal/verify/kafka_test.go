package verify

import (
	"testing"
	"time"
)

func TestMarkKafkaCommits(t *testing.T) {
	kill := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	before, after := kill.Add(-time.Millisecond), kill.Add(time.Millisecond)
	markers := []kafkaMarker{
		{checkpoint: 7, time: after},
		{checkpoint: 7, time: after},
		{checkpoint: 8, time: after},
		{checkpoint: 8, time: before},
	}
	kills := []Kill{
		{Timing: AfterCheckpoint, Checkpoint: 7, Time: kill}, // only the restart committed it
		{Timing: AfterCheckpoint, Checkpoint: 8, Time: kill}, // one subtask had committed
		{Timing: AfterCheckpoint, Checkpoint: 9, Time: kill}, // no marker
		{Timing: InCheckpoint, Checkpoint: 7, Time: kill},
	}
	markKafkaCommits(kills, markers)
	for i, want := range []bool{true, false, false, false} {
		if kills[i].BeforeCommit != want {
			t.Errorf("kill %d (%s, checkpoint %d): before commit %v, want %v", i, kills[i].Timing, kills[i].Checkpoint, kills[i].BeforeCommit, want)
		}
	}
}
