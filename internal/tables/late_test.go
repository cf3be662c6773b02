package tables

import (
	"testing"
	"time"
)

// Late writes are decided against the magnetic tier's rows of their identity, whatever
// dimensions a series lacks and whatever type a measure has.
func TestLateWritesAreDecidedAgainstTheMagneticTier(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "trucks", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	at := h.clock.Now().Add(-30 * time.Minute)
	full := func(v float64, status string, version int64) Record {
		return Record{Time: at.UnixMilli(), Dimensions: []Dimension{{"name", "t1"}, {"fleet", "east"}}, MeasureName: "readings", Version: version,
			Measures: []Measure{{"speed", DoubleValue(v)}, {"status", VarcharValue(status)}, {"seen", TimestampValue(at)}}}
	}
	partial := func(n int64, version int64) Record { // no fleet: another series
		return Record{Time: at.UnixMilli(), Dimensions: []Dimension{{"name", "t1"}}, MeasureName: "readings", Version: version,
			Measures: []Measure{{"load", BigIntValue(n)}}}
	}
	h.write("fleet", "trucks", full(1.5, "ok", 0), partial(7, 0))
	h.clock.Add(time.Hour)
	reviewTier(h)
	h.expect(`SELECT count(*) FROM _eddy_mem."fleet/trucks"`, "0") // both rows moved

	res := h.write("fleet", "trucks", full(1.5, "ok", 0), partial(7, 0), full(1.5, "late", 0), partial(8, 0), partial(9, 3))
	if res.Unchanged != 2 || res.Magnetic != 1 || len(res.Rejected) != 2 || res.Rejected[0].Index != 2 || res.Rejected[1].Index != 3 {
		t.Fatalf("late writes against the magnetic tier: %+v", res)
	}
	for _, r := range res.Rejected {
		if r.Code != CodeVersionConflict || r.ExistingVersion != 1 { // version 0 is stored as 1
			t.Fatalf("rejection %+v", r)
		}
	}
	h.expect(`SELECT fleet, speed, status, load FROM fleet.trucks ORDER BY fleet`, "east | 1.5 | ok | <nil>", "<nil> | <nil> | <nil> | 9")
}
