package jobs

import (
	"time"
)

// RestartStrategy decides whether and when a failed job starts again; each restart
// resumes from the job's latest complete checkpoint.
type RestartStrategy struct {
	// Kind is "exponential-backoff" (the default), "fixed-delay", "failure-rate" or "none".
	Kind string
	// Delay is the fixed delay, or the first delay of the backoff (default 1 s).
	Delay time.Duration
	// MaxDelay caps the backoff (default 1 min); a job that ran for MaxDelay without
	// failing starts the backoff over.
	MaxDelay time.Duration
	// MaxAttempts bounds fixed-delay restarts in a row (0: no bound).
	MaxAttempts int
	// MaxFailures in Interval: a failure-rate strategy gives up when more failures than
	// this happen within Interval (defaults 3 in 5 min).
	MaxFailures int
	Interval    time.Duration
}

// next says how long to wait before restarting after the failure at now, given the
// earlier failures (oldest first), or false to give up.
func (r RestartStrategy) next(failures []time.Time, now time.Time) (time.Duration, bool) {
	delay := r.Delay
	if delay <= 0 {
		delay = time.Second
	}
	switch r.Kind {
	case "none":
		return 0, false
	case "fixed-delay":
		streak := trailing(failures, now, delay+time.Minute)
		if r.MaxAttempts > 0 && streak > r.MaxAttempts {
			return 0, false
		}
		return delay, true
	case "failure-rate":
		n, within := r.MaxFailures, r.Interval
		if n <= 0 {
			n = 3
		}
		if within <= 0 {
			within = 5 * time.Minute
		}
		recent := 0
		for _, f := range failures {
			if now.Sub(f) <= within {
				recent++
			}
		}
		if recent > n {
			return 0, false
		}
		return delay, true
	default: // exponential-backoff
		maxDelay := r.MaxDelay
		if maxDelay <= 0 {
			maxDelay = time.Minute
		}
		streak := trailing(failures, now, 2*maxDelay)
		for i := 1; i < streak && delay < maxDelay; i++ {
			delay *= 2
		}
		return min(delay, maxDelay), true
	}
}

// trailing counts the failures at the end of the list that follow each other with less
// than gap between them (the last one counted against now): the current streak.
func trailing(failures []time.Time, now time.Time, gap time.Duration) int {
	n, later := 0, now
	for i := len(failures) - 1; i >= 0; i-- {
		if later.Sub(failures[i]) > gap {
			break
		}
		n++
		later = failures[i]
	}
	return n
}
