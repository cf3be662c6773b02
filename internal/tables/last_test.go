package tables

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLastPointViewMatchesTheTable writes, upserts, writes late, learns a dimension,
// moves, restarts and expires, and after each step compares the last-point view with
// the latest row per series computed from the table itself.
func TestLastPointViewMatchesTheTable(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem, mag := 1, 2
	h.createTable("fleet", "cpu", TableOptions{MemoryRetentionHours: &mem, MagneticRetentionDays: &mag, MagneticWrites: &yes})
	check := func(step string) {
		t.Helper()
		// The series are told apart by the measure name and the dimensions learned so far.
		series := strings.Join(h.query(`SELECT column_name FROM (DESCRIBE fleet.cpu) WHERE column_type = 'VARCHAR'`), ", ")
		want := h.query(`SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY ` + series + ` ORDER BY time DESC) AS rn FROM fleet.cpu) WHERE rn = 1 ORDER BY ALL`)
		got := h.query(`SELECT * FROM fleet."cpu$last" ORDER BY ALL`)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: last-point view\n got %q\nwant %q", step, got, want)
		}
	}
	// The region dimension and the temp measure are learned part-way; early rows lack them.
	h.write("fleet", "cpu", Record{Time: h.clock.Now().UnixMilli(), Dimensions: []Dimension{{"host", "a"}}, MeasureName: "temp", Measures: []Measure{{Value: BigIntValue(1)}}})
	check("first row")
	r := rand.New(rand.NewPCG(1, 2))
	start := h.clock.Now()
	hosts := []string{"a", "b", "c", "d"}
	for i := range 72 {
		at := start.Add(time.Duration(i) * 5 * time.Minute)
		h.clock.t = at
		var recs []Record
		for _, host := range hosts[:1+r.IntN(len(hosts))] { // some hosts stop reporting for a while
			rec := cpu(host, at, float64(i), 0)
			if i > 20 && host == "b" {
				rec.Dimensions = append(rec.Dimensions, Dimension{"region", "eu"})
			}
			recs = append(recs, rec)
		}
		h.write("fleet", "cpu", recs...)
		switch {
		case i%7 == 3:
			// An upsert of the latest row and a late write into an older hour.
			h.write("fleet", "cpu", cpu("a", at, 1000+float64(i), int64(i)), cpu("c", at.Add(-90*time.Minute), -1, int64(i)))
		case i%12 == 11:
			if err := h.svc.Tier(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("step %d", i))
	}
	h.reopen()
	check("after a restart")
	// A host that reported only early has its last point in the magnetic tier.
	h.write("fleet", "cpu", cpu("early", start.Add(-30*time.Minute), 7, 0))
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	check("a series only in the magnetic tier")
	h.expect(`SELECT usage_user FROM fleet."cpu$last" WHERE host = 'early'`, "7")
	// Without the file the last move saved them to, they come from a scan of the files.
	saved := filepath.Join(h.dir, "tables", "data", "fleet", "cpu", "last.parquet")
	if err := os.Remove(saved); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	check("without the saved last points")
	if err := os.WriteFile(saved, []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	check("with the saved last points unreadable")
	// Written again by the next move.
	h.write("fleet", "cpu", cpu("early", start.Add(-20*time.Minute), 8, 0))
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	check("the saved last points written again")
	h.expect(`SELECT usage_user FROM fleet."cpu$last" WHERE host = 'early'`, "8")
	// Three days on, retention has dropped every row, and every series with them.
	h.clock.Add(72 * time.Hour)
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("after expiry")
	h.expect(`SELECT count(*) FROM fleet."cpu$last"`, "0")
	h.reopen() // the saved last points predate the expiry
	check("after expiry and a restart")
	if err := h.svc.DeleteTable("fleet", "cpu"); err != nil {
		t.Fatal(err)
	}
	h.expect(`SELECT count(*) FROM duckdb_views() WHERE view_name = 'cpu$last'`, "0")
}
