package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables/wal"
)

// Review tests: each demonstrates one behaviour the review found suspicious. A failing
// test here is a bug report; see the review's list.

func reviewTier(h *harness) {
	h.t.Helper()
	if err := h.svc.Tier(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// writeSync writes and syncs, returning errors instead of failing the test.
func (h *harness) writeSync(db, table string, recs ...Record) (WriteResult, error) {
	res, err := h.svc.Write(context.Background(), db, table, &WriteRequest{Records: recs})
	if err != nil {
		return res, err
	}
	return res, h.svc.Sync(db, table)
}

func one(host string, at time.Time, v float64, version int64) Record {
	return Record{Time: at.UnixMilli(), Dimensions: []Dimension{{"host", host}}, MeasureName: "m", Version: version,
		Measures: []Measure{{Value: DoubleValue(v)}}}
}

// A move with a cut lower than the previous one (memory retention increased) records
// that lower cut in the manifest: at restart, rows moved by the earlier pass with times
// between the two cuts are replayed into the memory tier again, and show twice.
func TestReviewRetentionIncreaseDuplicatesAfterRestart(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	start := h.clock.Now()                                              // 12:00
	h.write("fleet", "mmm", one("a", start.Add(-30*time.Minute), 1, 0)) // 11:30
	h.clock.Add(time.Hour)                                              // 13:00: cut 12:00
	reviewTier(h)
	h.expect(`SELECT count(*) FROM fleet.mmm`, "1")
	mem = 3
	if _, err := h.svc.UpdateTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem}); err != nil {
		t.Fatal(err)
	}
	h.write("fleet", "mmm", one("b", start.Add(-3*time.Hour), 2, 0)) // 09:00, late (cut now 10:00)
	reviewTier(h)                                                    // moves b with cut 10:00
	h.expect(`SELECT count(*) FROM fleet.mmm`, "2")
	h.reopen()
	h.expect(`SELECT count(*) FROM fleet.mmm`, "2")
}

// A late write with the version of a row already in the magnetic tier and other values
// is a version conflict, as it is against a row in the memory tier; a repeat is a no-op
// and a higher version replaces the row.
func TestReviewLateWriteEqualVersionConflict(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	at := h.clock.Now().Add(-30 * time.Minute)
	h.write("fleet", "mmm", one("a", at, 1, 1))
	h.clock.Add(time.Hour)
	reviewTier(h)
	res := h.write("fleet", "mmm", one("a", at, 2, 1))
	if len(res.Rejected) != 1 || res.Rejected[0].Code != CodeVersionConflict || res.Rejected[0].ExistingVersion != 1 {
		t.Fatalf("equal version, other value, in the magnetic tier: %+v", res)
	}
	if res := h.write("fleet", "mmm", one("a", at, 1, 1)); res.Unchanged != 1 || res.Magnetic != 0 {
		t.Fatalf("a repeat of a row in the magnetic tier: %+v", res)
	}
	h.expect(`SELECT m FROM fleet.mmm`, "1")
	reviewTier(h)
	h.expect(`SELECT m FROM fleet.mmm`, "1")
	if res := h.write("fleet", "mmm", one("a", at, 3, 2)); res.Magnetic != 1 {
		t.Fatalf("a higher version of a row in the magnetic tier: %+v", res)
	}
	h.expect(`SELECT m FROM fleet.mmm`, "3")
	reviewTier(h) // moves the late row and compacts the partition
	h.expect(`SELECT m FROM fleet.mmm`, "3")
	// Against the row that replaced it (now in a compacted file), version 2 conflicts.
	res = h.write("fleet", "mmm", one("a", at, 4, 2))
	if len(res.Rejected) != 1 || res.Rejected[0].ExistingVersion != 2 {
		t.Fatalf("equal version against a replaced row: %+v", res)
	}
	h.expect(`SELECT m FROM fleet.mmm`, "3")
}

// After the write-ahead log fails a write, the index keeps the rows it decided; a retry
// of the same records is then an "identical repeat" and is acknowledged without ever
// reaching the log (nor the memory tier).
func TestReviewRetryAfterFailedWriteIsAcknowledged(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	h.write("fleet", "mmm", one("a", now, 1, 0))
	h.svc.mu.Lock()
	tb := h.svc.tables[key("fleet", "mmm")]
	h.svc.mu.Unlock()
	tb.wal.Close() // stands for a failed write or fsync: the log refuses appends for good
	defer func() { h.svc.Close(); h.eng.Close(); h.svc = nil }()
	rec := one("b", now, 2, 0)
	if _, err := h.svc.Write(context.Background(), "fleet", "mmm", &WriteRequest{Records: []Record{rec}}); err == nil {
		t.Fatal("the write succeeded on a closed log")
	}
	res, err := h.svc.Write(context.Background(), "fleet", "mmm", &WriteRequest{Records: []Record{rec}})
	if err == nil {
		t.Fatalf("the retry is acknowledged (%+v) though the record is in neither the log nor the memory tier", res)
	}
}

// DeleteTable closes the memory table's connection before dropping it, so the drop fails
// silently: the view and the memory rows stay in DuckDB, and a table created again under
// the name shows the deleted table's rows.
func TestReviewDeleteTableLeavesMemoryRows(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	h.write("fleet", "mmm", one("a", now, 1, 0), one("b", now, 2, 0))
	if err := h.svc.DeleteTable("fleet", "mmm"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.DB().Query(`SELECT * FROM fleet.mmm`); err == nil {
		t.Error("the deleted table's view is still queryable")
	}
	if _, err := h.svc.CreateTable("fleet", "mmm", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	h.expect(`SELECT count(*) FROM fleet.mmm`, "0")
}

// DuckDB matches identifiers case-insensitively, even quoted: two dimensions whose names
// differ only in case are two columns to eddy but one to DuckDB, and widening the series
// table fails; the publisher's error then fails every later sync of the table.
func TestReviewDimensionNamesDifferingInCase(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	h.write("fleet", "mmm", one("a", now, 1, 0))
	rec := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"Host", "b"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(2)}}}
	res, err := h.writeSync("fleet", "mmm", rec)
	if err != nil {
		t.Fatalf("a dimension named Host beside host: %v", err)
	}
	if len(res.Rejected) == 0 {
		h.expect(`SELECT count(*) FROM fleet.mmm`, "2")
	}
	h.expect(`SELECT count(*) FROM fleet.mmm`, fmt.Sprint(2-len(res.Rejected)))
}

// The same for a measure whose name differs from the fixed column "time" only in case.
func TestReviewMeasureNamedTimeInOtherCase(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	rec := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "a"}}, MeasureName: "x", Measures: []Measure{{"Time", DoubleValue(2)}}}
	res, err := h.writeSync("fleet", "mmm", rec)
	if err != nil {
		t.Fatalf("a measure named Time (%+v): %v", res, err)
	}
	if len(res.Rejected) == 0 {
		h.expect(`SELECT count(*) FROM fleet.mmm`, "1")
	}
}

// _sid is a physical column of the memory table but not a reserved name: a measure
// called _sid duplicates it.
func TestReviewMeasureNamedSid(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	rec := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "a"}}, MeasureName: "x", Measures: []Measure{{"_sid", BigIntValue(7)}}}
	res, err := h.writeSync("fleet", "mmm", rec)
	if err != nil {
		t.Fatalf("a measure named _sid (%+v): %v", res, err)
	}
	if len(res.Rejected) == 0 {
		h.expect(`SELECT count(*) FROM fleet.mmm`, "1")
	}
}

// The version resolution of dirty files and late rows adds a column named filename; a
// dimension of that name collides with it.
func TestReviewDimensionNamedFilename(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	at := h.clock.Now().Add(-30 * time.Minute)
	rec := func(at time.Time, v float64) Record {
		return Record{Time: at.UnixMilli(), Dimensions: []Dimension{{"filename", "f"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(v)}}}
	}
	h.write("fleet", "mmm", rec(at, 1))
	h.clock.Add(time.Hour)
	reviewTier(h)
	if _, err := h.writeSync("fleet", "mmm", rec(at.Add(-time.Minute), 2)); err != nil { // a late write
		t.Fatalf("late write with a dimension named filename: %v", err)
	}
	h.expect(`SELECT count(*), sum(m) FROM fleet.mmm`, "2 | 3")
}

// Database and table names may hold '.', and the memory table is named "<db>.<table>":
// database abc.x's table yyy and database abc's table x.yyy share one memory table.
func TestReviewMemoryTableNamesCollide(t *testing.T) {
	h := newHarness(t)
	h.createTable("abc.x", "yyy", TableOptions{})
	h.createTable("abc", "x.yyy", TableOptions{})
	now := h.clock.Now()
	h.write("abc.x", "yyy", one("a", now, 1, 0))
	h.write("abc", "x.yyy", one("b", now, 2, 0))
	h.expect(`SELECT host FROM "abc.x"."yyy"`, "a")
	h.expect(`SELECT host FROM "abc"."x.yyy"`, "b")
}

// Names are case-sensitive in eddy but not in DuckDB: databases fleet and FLEET share
// one schema, one view and one memory table.
func TestReviewDatabaseNamesDifferingInCase(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "cpu", TableOptions{})
	if _, err := h.svc.CreateDatabase("FLEET"); err == nil {
		if _, err := h.svc.CreateTable("FLEET", "cpu", TableOptions{}); err == nil {
			now := h.clock.Now()
			h.write("fleet", "cpu", one("a", now, 1, 0))
			h.write("FLEET", "cpu", one("b", now, 2, 0))
			h.expect(`SELECT count(*) FROM fleet.cpu`, "1")
		}
	}
	if _, err := h.svc.CreateTable("fleet", "CPU", TableOptions{}); err == nil {
		t.Fatal("table CPU created beside cpu")
	}
}

// Negative zero is stored as a DECIMAL(18,0) 0 once moved: the sign is lost (the index
// told 0 and -0 apart while the row was in memory).
func TestReviewNegativeZeroAfterMove(t *testing.T) {
	h := newHarness(t)
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem})
	at := h.clock.Now().Add(-30 * time.Minute)
	h.write("fleet", "mmm", one("a", at, negZero(), 0))
	h.expect(`SELECT signbit(m) FROM fleet.mmm`, "true")
	h.clock.Add(time.Hour)
	reviewTier(h)
	h.expect(`SELECT signbit(m) FROM fleet.mmm`, "true")
}

func negZero() float64 { z := 0.0; return -z }

var _ = fmt.Sprint

// tryReopen closes the service and opens another on the same files, returning the
// error NewService gives instead of failing the test.
func (h *harness) tryReopen() error {
	h.close()
	eng, err := eddysql.Open(eddysql.Options{AllowedDirs: []string{h.dir}, Threads: 2})
	if err != nil {
		return err
	}
	cat, err := Open(NewFileStore(h.dir), h.clock.Now)
	if err != nil {
		eng.Close()
		return err
	}
	type opened struct {
		svc *Service
		err error
	}
	done := make(chan opened, 1)
	go func() {
		svc, err := NewService(context.Background(), cat, eng, Options{DataDir: filepath.Join(h.dir, "tables"), MagneticURL: h.url, Fsync: true, Now: h.clock.Now})
		done <- opened{svc, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			eng.Close()
			return o.err
		}
		h.eng, h.svc = eng, o.svc
		return nil
	case <-time.After(20 * time.Second):
		// Left running: NewService is stuck (see TestReviewNewServiceHangsWhenATableFailsToOpen).
		return fmt.Errorf("NewService did not return within 20s")
	}
}

// NewService closes itself when a table fails to open, and Service.Close waits for the
// tiering loop's done channel, which is closed only after every table opened (or by a
// loop not started yet): the server hangs at startup instead of reporting the error.
func TestReviewNewServiceHangsWhenATableFailsToOpen(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	h.close()
	// Any error of openTable will do; a manifest that does not parse is one.
	if err := os.WriteFile(filepath.Join(h.dir, "tables", "data", "fleet", "mmm", "manifest.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := h.tryReopen()
	if err == nil || strings.Contains(err.Error(), "did not return") {
		t.Fatalf("NewService on a table that cannot open: %v; want its error", err)
	}
}

// A late write with a dimension named filename is replayed and resolved at the next start.
func TestReviewDimensionNamedFilenameAfterRestart(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	at := h.clock.Now().Add(-30 * time.Minute)
	rec := func(at time.Time, v float64) Record {
		return Record{Time: at.UnixMilli(), Dimensions: []Dimension{{"filename", "f"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(v)}}}
	}
	h.write("fleet", "mmm", rec(at, 1))
	h.clock.Add(time.Hour)
	reviewTier(h)
	if _, err := h.svc.Write(context.Background(), "fleet", "mmm", &WriteRequest{Records: []Record{rec(at.Add(-time.Minute), 2)}}); err != nil {
		t.Fatal(err) // acknowledged: durable in the log
	}
	if err := h.tryReopen(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	h.expect(`SELECT count(*), sum(m) FROM fleet.mmm`, "2 | 3")
}

// An identical repeat is acknowledged at once, without waiting for the write-ahead log
// to hold the row it repeats: a repeat (a client's retry) racing with the first write is
// acknowledged before the row is durable, and a crash then loses an acknowledged record.
func TestReviewIdenticalRepeatAckedBeforeDurable(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	h.svc.mu.Lock()
	tb := h.svc.tables[key("fleet", "mmm")]
	h.svc.mu.Unlock()
	big := strings.Repeat("x", 2000)
	var recs []Record
	for i := range 10_000 {
		recs = append(recs, Record{Time: now.Add(-time.Duration(i) * time.Millisecond).UnixMilli(), Dimensions: []Dimension{{"host", "a"}},
			MeasureName: "m", Measures: []Measure{{Value: VarcharValue(big)}}})
	}
	first := make(chan error, 1)
	go func() {
		_, err := h.svc.Write(context.Background(), "fleet", "mmm", &WriteRequest{Records: recs})
		first <- err
	}()
	for { // until the first write's rows are decided (and its entry queued)
		tb.mu.Lock()
		seq := tb.seq
		tb.mu.Unlock()
		if seq >= uint64(len(recs)) {
			break
		}
		time.Sleep(10 * time.Microsecond)
	}
	res, err := h.svc.Write(context.Background(), "fleet", "mmm", &WriteRequest{Records: recs[:1]})
	if err != nil {
		t.Fatal(err)
	}
	entries := 0 // entries the log has written (and fsynced)
	if err := tb.wal.Replay(wal.Pos{}, func(wal.Pos, []byte) error { entries++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if res.Unchanged == 1 && entries == 0 {
		t.Fatalf("the repeat was acknowledged (%+v) while the log held none of the row it repeats", res)
	}
}

// The case check compares a new column with the table's columns only, not with the other
// new columns of the same record: one record with dimensions Host and host gets both
// learned (in the catalog too), and the memory table cannot take them.
func TestReviewOneRecordWithNamesDifferingInCase(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	rec := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"Host", "a"}, {"host", "b"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(1)}}}
	res, err := h.writeSync("fleet", "mmm", rec)
	if err != nil {
		t.Fatalf("write %+v: %v", res, err)
	}
	if err := h.tryReopen(); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

// Dimension values may hold a zero byte (only names are checked for control
// characters), and the index's series key ends each name and value with one: the series
// {host: "x\x00rack\x00y"} and {host: "x", rack: "y"} have the same key.
func TestReviewZeroByteInDimensionValue(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	now := h.clock.Now()
	a := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "x\x00rack\x00y"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(1)}}}
	b := Record{Time: now.UnixMilli(), Dimensions: []Dimension{{"host", "x"}, {"rack", "y"}}, MeasureName: "m", Measures: []Measure{{Value: DoubleValue(1)}}}
	res, err := h.writeSync("fleet", "mmm", a, b)
	if err != nil {
		t.Fatalf("write %+v: %v", res, err)
	}
	if len(res.Rejected) == 0 {
		if res.Memory != 2 {
			t.Fatalf("two series, one row stored: %+v", res)
		}
		h.expect(`SELECT count(*) FROM fleet.mmm`, "2")
	}
}

// A replacement goes into DuckDB through a prepared INSERT, not the appender: its time
// and timestamp measures must keep their nanoseconds.
func TestReviewReplacementKeepsNanoseconds(t *testing.T) {
	h := newHarness(t)
	h.createTable("fleet", "mmm", TableOptions{})
	ns := h.clock.Now().UnixNano() + 123_456_789 - int64(time.Second)
	rec := func(v float64, version int64) Record {
		return Record{Time: ns, TimeUnit: Nanoseconds, Dimensions: []Dimension{{"host", "a"}}, MeasureName: "m", Version: version,
			Measures: []Measure{{"v", DoubleValue(v)}, {"ts", Value{Type: Timestamp, I: ns + 1}}}}
	}
	h.write("fleet", "mmm", rec(1, 1))
	h.expect(`SELECT epoch_ns(time) % 1000000000, epoch_ns(ts) % 1000000000 FROM fleet.mmm`, "123456789 | 123456790")
	h.write("fleet", "mmm", rec(2, 2))
	h.expect(`SELECT epoch_ns(time) % 1000000000, epoch_ns(ts) % 1000000000, v FROM fleet.mmm`, "123456789 | 123456790 | 2")
}

// With --fsync interval a power loss may cut the log's tail, entries the manifest's
// moved position already counts. The log then hands those positions out again: a write
// acknowledged after the restart gets a position before moved.WAL and, being older than
// the cut (a late write), is skipped by the next replay.
func TestReviewLogPositionsReusedAfterTornTail(t *testing.T) {
	h := newHarness(t)
	yes := true
	mem := 1
	h.createTable("fleet", "mmm", TableOptions{MemoryRetentionHours: &mem, MagneticWrites: &yes})
	start := h.clock.Now() // 12:00
	h.write("fleet", "mmm", one("a", start.Add(-30*time.Minute), 1, 0))
	h.write("fleet", "mmm", one("b", start.Add(-20*time.Minute), 2, 0))
	h.clock.Add(time.Hour)
	reviewTier(h) // moved = {12:00, after b's entry}
	h.svc.mu.Lock()
	tb := h.svc.tables[key("fleet", "mmm")]
	h.svc.mu.Unlock()
	var pos []wal.Pos
	if err := tb.wal.Replay(wal.Pos{}, func(p wal.Pos, _ []byte) error { pos = append(pos, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pos) != 2 {
		t.Fatalf("%d entries", len(pos))
	}
	h.close()
	// The power loss: b's entry, written but not fsynced, is gone.
	seg := filepath.Join(h.dir, "tables", "data", "fleet", "mmm", "wal")
	ents, err := os.ReadDir(seg)
	if err != nil || len(ents) != 1 {
		t.Fatalf("segments %v: %v", ents, err)
	}
	if err := os.Truncate(filepath.Join(seg, ents[0].Name()), pos[1].Offset); err != nil {
		t.Fatal(err)
	}
	h.open()
	h.expect(`SELECT count(*) FROM fleet.mmm`, "2")                     // a and b are in the magnetic tier
	h.write("fleet", "mmm", one("c", start.Add(-10*time.Minute), 3, 0)) // a late write, acknowledged
	h.expect(`SELECT count(*) FROM fleet.mmm`, "3")
	h.reopen()
	h.expect(`SELECT count(*) FROM fleet.mmm`, "3")
}
