package jobs

import (
	"testing"
	"time"
)

func TestRestartStrategies(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(secs ...int) []time.Time {
		var out []time.Time
		for _, s := range secs {
			out = append(out, t0.Add(time.Duration(s)*time.Second))
		}
		return out
	}
	now := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	backoff := RestartStrategy{Delay: time.Second, MaxDelay: 8 * time.Second}
	for _, c := range []struct {
		failures []time.Time
		want     time.Duration
	}{
		{at(10), time.Second},
		{at(10, 11), 2 * time.Second},
		{at(10, 11, 13), 4 * time.Second},
		{at(10, 11, 13, 17, 25, 33), 8 * time.Second}, // capped
		{at(10, 11, 13, 100), time.Second},            // ran long enough: start over
	} {
		last := c.failures[len(c.failures)-1]
		if d, ok := backoff.next(c.failures, last); !ok || d != c.want {
			t.Errorf("backoff after %v: %v %v, want %v", c.failures, d, ok, c.want)
		}
	}

	fixed := RestartStrategy{Kind: "fixed-delay", Delay: 2 * time.Second, MaxAttempts: 2}
	if d, ok := fixed.next(at(1, 3), now(3)); !ok || d != 2*time.Second {
		t.Errorf("fixed delay, 2 attempts: %v %v", d, ok)
	}
	if _, ok := fixed.next(at(1, 3, 5), now(5)); ok {
		t.Error("fixed delay must give up after MaxAttempts")
	}

	rate := RestartStrategy{Kind: "failure-rate", MaxFailures: 2, Interval: time.Minute}
	if _, ok := rate.next(at(0, 30), now(30)); !ok {
		t.Error("two failures in a minute are tolerated")
	}
	if _, ok := rate.next(at(0, 30, 50), now(50)); ok {
		t.Error("three failures in a minute must give up")
	}
	if _, ok := rate.next(at(0, 30, 100), now(100)); !ok {
		t.Error("old failures leave the window")
	}
	if _, ok := (RestartStrategy{Kind: "none"}).next(at(1), now(1)); ok {
		t.Error("none never restarts")
	}
}
