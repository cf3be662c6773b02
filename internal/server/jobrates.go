package server

import (
	"sync"
	"time"

	"github.com/eddy-streams/eddy/flow"
)

// minRateSpan is the shortest span a rate is measured over; closer samples would give
// rates that jump with every batch.
const minRateSpan = time.Second

// rateSampler turns the running totals of job snapshots into per-second rates and
// time fractions. It keeps, per job, one earlier snapshot and its time: a sample at
// least minRateSpan later measures the deltas since it and becomes the next baseline; a
// sample sooner than that repeats the rates last measured. Until a job has a measured
// span, rates are its totals over the time since it started.
//
// Every describe and every /metrics scrape takes a sample, so with a scraper the rates
// cover about one scrape interval.
type rateSampler struct {
	mu   sync.Mutex
	jobs map[string]*jobSamples
}

// subtaskRates are what a subtask did per second of the measured span.
type subtaskRates struct {
	in, out                   float64 // records per second
	busy, idle, backpressured float64 // fractions of the span, adding up to 1
}

type subtaskKey struct {
	operator string
	index    int
}

type jobSamples struct {
	// started tells runs of the job apart: a job started again under the same name
	// begins with no baseline.
	started  time.Time
	at       time.Time
	baseline map[subtaskKey]flow.SubtaskStatus
	// rates were measured over the span that ended at the baseline; nil before that.
	rates map[subtaskKey]subtaskRates
}

func newRateSampler() *rateSampler {
	return &rateSampler{jobs: map[string]*jobSamples{}}
}

// sample records st, the status of job name at now, and returns the rates of its
// subtasks, indexed like st.Operators[i].Subtasks[j].
func (s *rateSampler) sample(name string, st flow.JobStatus, now time.Time) [][]subtaskRates {
	s.mu.Lock()
	defer s.mu.Unlock()
	js := s.jobs[name]
	if js == nil || !js.started.Equal(st.Started) {
		js = &jobSamples{started: st.Started, at: now, baseline: snapshot(st)}
		s.jobs[name] = js
	} else if span := now.Sub(js.at); span >= minRateSpan {
		js.rates = map[subtaskKey]subtaskRates{}
		for i, op := range st.Operators {
			for j, cur := range op.Subtasks {
				k := subtaskKey{op.Name, j}
				if prev, ok := js.baseline[k]; ok {
					js.rates[k] = measure(prev, cur, span)
				} else {
					js.rates[k] = sinceStart(st, i, j, now)
				}
			}
		}
		js.at, js.baseline = now, snapshot(st)
	}
	out := make([][]subtaskRates, len(st.Operators))
	for i, op := range st.Operators {
		out[i] = make([]subtaskRates, len(op.Subtasks))
		for j := range op.Subtasks {
			r, ok := js.rates[subtaskKey{op.Name, j}]
			if !ok {
				r = sinceStart(st, i, j, now)
			}
			out[i][j] = r
		}
	}
	return out
}

func snapshot(st flow.JobStatus) map[subtaskKey]flow.SubtaskStatus {
	m := map[subtaskKey]flow.SubtaskStatus{}
	for _, op := range st.Operators {
		for j, sub := range op.Subtasks {
			m[subtaskKey{op.Name, j}] = sub
		}
	}
	return m
}

// measure is what a subtask did between two snapshots span apart.
func measure(prev, cur flow.SubtaskStatus, span time.Duration) subtaskRates {
	secs := span.Seconds()
	r := subtaskRates{
		in:  float64(cur.RecordsIn-prev.RecordsIn) / secs,
		out: float64(cur.RecordsOut-prev.RecordsOut) / secs,
	}
	r.busy, r.idle, r.backpressured = fractions(cur.Busy-prev.Busy, cur.Idle-prev.Idle, cur.Backpressured-prev.Backpressured)
	if r.busy+r.idle+r.backpressured == 0 {
		// The subtask had finished before the span: report how it spent its life.
		r.busy, r.idle, r.backpressured = fractions(cur.Busy, cur.Idle, cur.Backpressured)
	}
	return r
}

// sinceStart is what subtask j of operator i did per second since the job started, for
// when there is no earlier snapshot to measure from.
func sinceStart(st flow.JobStatus, i, j int, now time.Time) subtaskRates {
	cur := st.Operators[i].Subtasks[j]
	var r subtaskRates
	end := now
	if !st.Finished.IsZero() {
		end = st.Finished
	}
	if secs := end.Sub(st.Started).Seconds(); !st.Started.IsZero() && secs > 0 {
		r.in, r.out = float64(cur.RecordsIn)/secs, float64(cur.RecordsOut)/secs
	}
	r.busy, r.idle, r.backpressured = fractions(cur.Busy, cur.Idle, cur.Backpressured)
	return r
}

// fractions splits the sum of busy, idle and backpressured time into fractions. The sum
// is the subtask's running time over the span, up to clock skew between its counters.
func fractions(busy, idle, back time.Duration) (float64, float64, float64) {
	busy, idle, back = max(busy, 0), max(idle, 0), max(back, 0)
	total := busy + idle + back
	if total <= 0 {
		return 0, 0, 0
	}
	t := float64(total)
	return float64(busy) / t, float64(idle) / t, float64(back) / t
}
