package engine

import "math"

// Watermark values. A watermark w says no record with a time ≤ w will follow.
const (
	// MinWatermark is the watermark before anything is known.
	MinWatermark int64 = math.MinInt64
	// MaxWatermark ends event time: a bounded input sends it when it is exhausted, which
	// fires every remaining event-time timer and window.
	MaxWatermark int64 = math.MaxInt64
)

// WatermarkTracker combines the watermarks of several inputs: an operator's watermark is
// the minimum over its inputs, ignoring inputs marked idle so a quiet input does not stall
// event time. It only ever moves forward.
type WatermarkTracker struct {
	marks   []int64
	idle    []bool
	current int64
}

// NewWatermarkTracker tracks n inputs.
func NewWatermarkTracker(n int) *WatermarkTracker {
	t := &WatermarkTracker{marks: make([]int64, n), idle: make([]bool, n), current: MinWatermark}
	for i := range t.marks {
		t.marks[i] = MinWatermark
	}
	return t
}

// Current is the combined watermark.
func (t *WatermarkTracker) Current() int64 { return t.current }

// Update records input i's watermark (which also makes it active again) and reports the
// combined watermark and whether it advanced.
func (t *WatermarkTracker) Update(i int, wm int64) (int64, bool) {
	if wm > t.marks[i] {
		t.marks[i] = wm
	}
	t.idle[i] = false
	return t.recompute()
}

// SetIdle marks input i idle: it no longer holds the combined watermark back until it
// sends a watermark or records again.
func (t *WatermarkTracker) SetIdle(i int) (int64, bool) {
	t.idle[i] = true
	return t.recompute()
}

// Activate marks input i active again (it sent a record).
func (t *WatermarkTracker) Activate(i int) {
	t.idle[i] = false
}

func (t *WatermarkTracker) recompute() (int64, bool) {
	m := MaxWatermark
	active := false
	for i, w := range t.marks {
		if t.idle[i] {
			continue
		}
		active = true
		m = min(m, w)
	}
	if !active || m <= t.current {
		return t.current, false
	}
	t.current = m
	return m, true
}
