package tables

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	eddysql "github.com/eddy-streams/eddy/internal/sql"
)

// fakeClock is the controllable clock of the tiering and retention tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a Service on a temporary data directory with a fake clock; reopen closes
// it and opens another on the same files, as a restart would.
type harness struct {
	t     *testing.T
	dir   string
	clock *fakeClock
	eng   *eddysql.Engine
	svc   *Service
	url   string
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), clock: &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}}
	h.open()
	t.Cleanup(func() { h.close() })
	return h
}

func (h *harness) open() {
	h.t.Helper()
	eng, err := eddysql.Open(eddysql.Options{AllowedDirs: []string{h.dir}, Threads: 2})
	if err != nil {
		h.t.Fatal(err)
	}
	cat, err := Open(NewFileStore(h.dir), h.clock.Now)
	if err != nil {
		h.t.Fatal(err)
	}
	svc, err := NewService(context.Background(), cat, eng, Options{DataDir: filepath.Join(h.dir, "tables"), MagneticURL: h.url, Fsync: true, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng, h.svc = eng, svc
}

func (h *harness) close() {
	if h.svc != nil {
		if err := h.svc.Close(); err != nil {
			h.t.Error(err)
		}
		h.eng.Close()
		h.svc = nil
	}
}

func (h *harness) reopen() { h.close(); h.open() }

func (h *harness) createTable(db, table string, opts TableOptions) {
	h.t.Helper()
	if _, err := h.svc.CreateDatabase(db); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.svc.CreateTable(db, table, opts); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) write(db, table string, recs ...Record) WriteResult {
	h.t.Helper()
	res, err := h.svc.Write(context.Background(), db, table, &WriteRequest{Records: recs})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.svc.Sync(db, table); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// query returns the rows of q as strings, one per row, columns joined by " | ".
func (h *harness) query(q string) []string {
	h.t.Helper()
	rows, err := h.eng.DB().Query(q)
	if err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			h.t.Fatal(err)
		}
		s := ""
		for i, v := range vals {
			if i > 0 {
				s += " | "
			}
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC().Format("15:04:05")
			}
			s += fmt.Sprint(v)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) expect(q string, want ...string) {
	h.t.Helper()
	got := h.query(q)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Fatalf("%s\n got %q\nwant %q", q, got, want)
	}
}

func cpu(host string, at time.Time, user float64, version int64) Record {
	return Record{
		Time: at.UnixMilli(), Dimensions: []Dimension{{"host", host}}, MeasureName: "cpu", Version: version,
		Measures: []Measure{{"usage_user", DoubleValue(user)}, {"usage_system", DoubleValue(user / 2)}},
	}
}

func TestWriteQueryRestart(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "cpu", TableOptions{})
	now := h.clock.Now()
	res := h.write("fleet", "cpu",
		cpu("a", now.Add(-time.Minute), 10, 0),
		cpu("b", now.Add(-time.Minute), 20, 0),
		cpu("a", now.Add(-30*time.Second), 11, 0),
		Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "a"}}, MeasureName: "temp", Measures: []Measure{{Value: BigIntValue(40)}}},
	)
	if res.Memory != 4 || len(res.Rejected) != 0 {
		t.Fatalf("result %+v", res)
	}
	h.expect(`SELECT host, measure_name, usage_user, temp FROM fleet.cpu ORDER BY time, host, measure_name`,
		"a | cpu | 10 | <nil>", "b | cpu | 20 | <nil>", "a | cpu | 11 | <nil>", "a | temp | <nil> | 40")
	h.reopen()
	h.expect(`SELECT count(*), sum(usage_user), sum(temp) FROM fleet.cpu`, "4 | 41 | 40")
}

func TestRejections(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "cpu", TableOptions{})
	now := h.clock.Now()
	res := h.write("fleet", "cpu",
		cpu("a", now, 10, 0),                   // 0 stored
		cpu("a", now.Add(-7*time.Hour), 10, 0), // 1 older than the memory retention
		cpu("a", now.Add(time.Hour), 10, 0),    // 2 too far in the future
		cpu("a", now, 12, 0),                   // 3 other values, same version
		cpu("a", now, 10, 0),                   // 4 identical repeat
		Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"usage_user", "x"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(1)}}},    // 5 measure used as a dimension
		Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "a"}}, MeasureName: "cpu", Measures: []Measure{{"usage_user", BigIntValue(1)}}}, // 6 type conflict
		Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"time", "a"}}, MeasureName: "x", Measures: []Measure{{Value: DoubleValue(1)}}},          // 7 reserved name
		cpu("a", now, 13, 2), // 8 replaces with a higher version
	)
	want := map[int]string{1: CodeTooOld, 2: CodeTooNew, 3: CodeVersionConflict, 5: CodeTypeConflict, 6: CodeTypeConflict, 7: CodeInvalidRecord}
	if len(res.Rejected) != len(want) {
		t.Fatalf("rejected %+v", res.Rejected)
	}
	for _, r := range res.Rejected {
		if want[r.Index] != r.Code || r.Reason == "" {
			t.Errorf("record %d: %s %q, want %s", r.Index, r.Code, r.Reason, want[r.Index])
		}
	}
	if res.Memory != 2 || res.Unchanged != 1 {
		t.Fatalf("result %+v", res)
	}
	h.expect(`SELECT usage_user FROM fleet.cpu`, "13")
	h.reopen()
	h.expect(`SELECT usage_user FROM fleet.cpu`, "13")
}

func TestTieringMovesExpiresAndCompacts(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem, mag := 1, 2
	h.createTable("fleet", "cpu", TableOptions{MemoryRetentionHours: &mem, MagneticRetentionDays: &mag, MagneticWrites: &yes})
	start := h.clock.Now()
	// Ten hours of one row per host every ten minutes, written as time passes, with a
	// tiering pass every hour.
	n := 0
	for i := range 60 {
		at := start.Add(time.Duration(i) * 10 * time.Minute)
		h.clock.t = at
		h.write("fleet", "cpu", cpu("a", at, float64(i), 0), cpu("b", at, float64(i)+0.5, 0))
		n += 2
		if i%6 == 5 {
			if err := h.svc.Tier(context.Background()); err != nil {
				t.Fatal(err)
			}
			h.expect(`SELECT count(*) FROM fleet.cpu`, fmt.Sprint(n))
		}
	}
	if st := h.svc.Stats(); st.MovedRows == 0 {
		t.Fatal("nothing moved to the magnetic tier")
	}
	h.expect(`SELECT count(*), sum(usage_user) FROM fleet.cpu`, fmt.Sprint(n, " | ", 2*(59*60/2)+30))
	// A late write into the magnetic tier replaces an old row with a higher version.
	h.write("fleet", "cpu", cpu("a", start, 100, 5))
	h.expect(`SELECT usage_user FROM fleet.cpu WHERE host = 'a' AND time = '`+start.Format("2006-01-02 15:04:05")+`'`, "100")
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.expect(`SELECT usage_user FROM fleet.cpu WHERE host = 'a' AND time = '`+start.Format("2006-01-02 15:04:05")+`'`, "100")
	h.expect(`SELECT count(*) FROM fleet.cpu`, fmt.Sprint(n))
	h.reopen()
	h.expect(`SELECT count(*) FROM fleet.cpu`, fmt.Sprint(n))
	h.expect(`SELECT usage_user FROM fleet.cpu WHERE host = 'a' AND time = '`+start.Format("2006-01-02 15:04:05")+`'`, "100")
	// Three days later the first day's partition has expired.
	h.clock.Add(72 * time.Hour)
	if err := h.svc.Tier(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.expect(`SELECT count(*) FROM fleet.cpu`, "0")
}
