package server

import (
	"math"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// status is a running job with one operator of one subtask.
func status(started time.Time, in, out int64, busy, idle, back time.Duration) flow.JobStatus {
	return flow.JobStatus{
		State: flow.JobRunning, Started: started,
		Operators: []flow.OperatorStatus{{Name: "count", Parallelism: 1, Subtasks: []flow.SubtaskStatus{
			{RecordsIn: in, RecordsOut: out, Busy: busy, Idle: idle, Backpressured: back},
		}}},
	}
}

func wantRates(t *testing.T, step string, got [][]subtaskRates, want subtaskRates) {
	t.Helper()
	r := got[0][0]
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(r.in, want.in) || !near(r.out, want.out) || !near(r.busy, want.busy) || !near(r.idle, want.idle) || !near(r.backpressured, want.backpressured) {
		t.Fatalf("%s: rates %+v, want %+v", step, r, want)
	}
}

func TestRateSampler(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	s := newRateSampler()

	// The first sample has nothing to measure from: totals over the time since the start.
	got := s.sample("j", status(t0, 100, 50, 2*time.Second, 6*time.Second, 2*time.Second), at(10*time.Second))
	wantRates(t, "first sample", got, subtaskRates{in: 10, out: 5, busy: 0.2, idle: 0.6, backpressured: 0.2})

	// Under a second later there is still no span to measure: totals again, with the new ones.
	got = s.sample("j", status(t0, 210, 105, 2*time.Second, 6500*time.Millisecond, 2*time.Second), at(10500*time.Millisecond))
	wantRates(t, "half a second later", got, subtaskRates{in: 20, out: 10, busy: 2 / 10.5, idle: 6.5 / 10.5, backpressured: 2 / 10.5})

	// A second after the first sample: the deltas since it.
	got = s.sample("j", status(t0, 300, 70, 2750*time.Millisecond, 6*time.Second, 2250*time.Millisecond), at(11*time.Second))
	wantRates(t, "one second later", got, subtaskRates{in: 200, out: 20, busy: 0.75, idle: 0, backpressured: 0.25})

	// Too soon after that one to measure again: the same rates, though the totals moved.
	got = s.sample("j", status(t0, 5000, 5000, 3*time.Second, 6*time.Second, 2500*time.Millisecond), at(11500*time.Millisecond))
	wantRates(t, "too soon", got, subtaskRates{in: 200, out: 20, busy: 0.75, idle: 0, backpressured: 0.25})

	// Measured from the sample at 11s, not from the one repeated at 11.5s.
	got = s.sample("j", status(t0, 900, 470, 2750*time.Millisecond, 8*time.Second, 2250*time.Millisecond), at(13*time.Second))
	wantRates(t, "two seconds later", got, subtaskRates{in: 300, out: 200, busy: 0, idle: 1, backpressured: 0})

	// A subtask that finished does nothing more: no records per second, and the time
	// fractions of its whole life.
	got = s.sample("j", status(t0, 900, 470, 2750*time.Millisecond, 8*time.Second, 2250*time.Millisecond), at(20*time.Second))
	wantRates(t, "finished", got, subtaskRates{in: 0, out: 0, busy: 2.75 / 13, idle: 8 / 13.0, backpressured: 2.25 / 13})

	// Another job's samples are its own.
	got = s.sample("other", status(t0, 40, 40, time.Second, time.Second, 0), at(20*time.Second))
	wantRates(t, "another job", got, subtaskRates{in: 2, out: 2, busy: 0.5, idle: 0.5})

	// The job started again under the same name: the old run's baseline does not apply.
	t1 := at(30 * time.Second)
	got = s.sample("j", status(t1, 30, 0, time.Second, 2*time.Second, 0), t1.Add(3*time.Second))
	wantRates(t, "restarted", got, subtaskRates{in: 10, out: 0, busy: 1 / 3.0, idle: 2 / 3.0})
}

func TestRateSamplerBeforeTheJobRuns(t *testing.T) {
	s := newRateSampler()
	// A job that has not started has operators but no subtasks yet.
	st := flow.JobStatus{State: flow.JobCreated, Operators: []flow.OperatorStatus{{Name: "read", Parallelism: 2}}}
	if got := s.sample("j", st, time.Now()); len(got) != 1 || len(got[0]) != 0 {
		t.Fatalf("rates of a job without subtasks: %v", got)
	}
	// Once it runs, its first sample is measured from its start, not from the sample above.
	started := time.Now()
	got := s.sample("j", status(started, 50, 0, time.Second, 0, 0), started.Add(5*time.Second))
	wantRates(t, "first run", got, subtaskRates{in: 10, busy: 1})
}
