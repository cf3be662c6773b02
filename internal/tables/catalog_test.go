package tables

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// clock is a controllable clock that advances only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)}
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func open(t *testing.T, s Store, clk *clock) *Catalog {
	t.Helper()
	c, err := Open(s, clk.now)
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := apierr.CodeOf(err); got != code {
		t.Fatalf("%s: got code %q (error %v), want %q", what, got, err, code)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		code string
	}{
		{"abc", ""},
		{"Fleet_2026-01.v2", ""},
		{strings.Repeat("a", 256), ""},
		{"ab", CodeInvalidName},
		{"", CodeInvalidName},
		{strings.Repeat("a", 257), CodeInvalidName},
		{"has space", CodeInvalidName},
		{"slash/name", CodeInvalidName},
		{"quote\"d", CodeInvalidName},
		{"naïve", CodeInvalidName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t, NewMemStore(), newClock())
			_, err := c.CreateDatabase(tc.name)
			wantCode(t, "create database", err, tc.code)
			if _, err := c.CreateDatabase("db1"); err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateTable("db1", tc.name, TableOptions{})
			wantCode(t, "create table", err, tc.code)
		})
	}
}

// TestErrors runs one script of operations against one catalog, each with the code it
// must return, so every error code is produced by the operation a user would call.
func TestErrors(t *testing.T) {
	c := open(t, NewMemStore(), newClock())
	steps := []struct {
		name string
		do   func() error
		code string
	}{
		{"create db", func() error { _, err := c.CreateDatabase("fleet"); return err }, ""},
		{"create db again", func() error { _, err := c.CreateDatabase("fleet"); return err }, CodeDatabaseExists},
		{"describe missing db", func() error { _, err := c.DescribeDatabase("nope"); return err }, CodeDatabaseNotFound},
		{"delete missing db", func() error { return c.DeleteDatabase("nope") }, CodeDatabaseNotFound},
		{"create table in missing db", func() error { _, err := c.CreateTable("nope", "readings", TableOptions{}); return err }, CodeDatabaseNotFound},
		{"list tables of missing db", func() error { _, err := c.ListTables("nope"); return err }, CodeDatabaseNotFound},
		{"create table", func() error { _, err := c.CreateTable("fleet", "readings", TableOptions{}); return err }, ""},
		{"create table again", func() error { _, err := c.CreateTable("fleet", "readings", TableOptions{}); return err }, CodeTableExists},
		{"describe missing table", func() error { _, err := c.DescribeTable("fleet", "nope"); return err }, CodeTableNotFound},
		{"describe table in missing db", func() error { _, err := c.DescribeTable("nope", "readings"); return err }, CodeDatabaseNotFound},
		{"update missing table", func() error { _, err := c.UpdateTable("fleet", "nope", TableOptions{}); return err }, CodeTableNotFound},
		{"delete missing table", func() error { return c.DeleteTable("fleet", "nope") }, CodeTableNotFound},
		{"learn columns of missing table", func() error { _, err := c.LearnColumns("fleet", "nope", DimensionColumn("truck")); return err }, CodeTableNotFound},
		{"create with bad retention", func() error {
			_, err := c.CreateTable("fleet", "other", TableOptions{MemoryRetentionHours: ptr(0)})
			return err
		}, CodeInvalidRetention},
		{"update with bad retention", func() error {
			_, err := c.UpdateTable("fleet", "readings", TableOptions{MagneticRetentionDays: ptr(73001)})
			return err
		}, CodeInvalidRetention},
		{"learn a measure", func() error { _, err := c.LearnColumns("fleet", "readings", MeasureColumn("fuel", Double)); return err }, ""},
		{"learn it with another type", func() error { _, err := c.LearnColumns("fleet", "readings", MeasureColumn("fuel", BigInt)); return err }, CodeTypeConflict},
		{"learn an unknown type", func() error { _, err := c.LearnColumns("fleet", "readings", MeasureColumn("x", "float")); return err }, CodeInvalidColumnType},
		{"delete non-empty db", func() error { return c.DeleteDatabase("fleet") }, CodeDatabaseNotEmpty},
		{"delete table", func() error { return c.DeleteTable("fleet", "readings") }, ""},
		{"delete empty db", func() error { return c.DeleteDatabase("fleet") }, ""},
		{"describe deleted db", func() error { _, err := c.DescribeDatabase("fleet"); return err }, CodeDatabaseNotFound},
	}
	for _, s := range steps {
		wantCode(t, s.name, s.do(), s.code)
	}
}

func TestErrorKinds(t *testing.T) {
	c := open(t, NewMemStore(), newClock())
	if _, err := c.CreateDatabase("fleet"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		err  error
		kind apierr.Kind
	}{
		{func() error { _, err := c.CreateDatabase("fleet"); return err }(), apierr.Conflict},
		{func() error { _, err := c.DescribeDatabase("nope"); return err }(), apierr.NotFound},
		{func() error { _, err := c.CreateDatabase("x"); return err }(), apierr.Invalid},
	} {
		e, ok := apierr.As(tc.err)
		if !ok || e.Kind != tc.kind {
			t.Errorf("error %v: kind %v, want %v", tc.err, e, tc.kind)
		}
	}
}

func TestDatabases(t *testing.T) {
	clk := newClock()
	c := open(t, NewMemStore(), clk)
	created := clk.now()
	for _, name := range []string{"zeta", "alpha", "mid"} {
		if _, err := c.CreateDatabase(name); err != nil {
			t.Fatal(err)
		}
	}
	clk.advance(time.Hour)
	if _, err := c.CreateTable("mid", "tb1", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable("mid", "tb2", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeDatabase("mid")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Database{Name: "mid", CreatedAt: created, TableCount: 2}); got != want {
		t.Errorf("describe: got %+v, want %+v", got, want)
	}
	var names []string
	for _, db := range c.ListDatabases() {
		names = append(names, db.Name)
	}
	if want := []string{"alpha", "mid", "zeta"}; !reflect.DeepEqual(names, want) {
		t.Errorf("list: got %v, want %v", names, want)
	}
	if err := c.DeleteDatabase("zeta"); err != nil {
		t.Fatal(err)
	}
	if n := len(c.ListDatabases()); n != 2 {
		t.Errorf("after delete: %d databases, want 2", n)
	}
	if _, err := c.CreateDatabase("zeta"); err != nil {
		t.Errorf("recreate a deleted database: %v", err)
	}
}

func TestTables(t *testing.T) {
	clk := newClock()
	c := open(t, NewMemStore(), clk)
	if _, err := c.CreateDatabase("fleet"); err != nil {
		t.Fatal(err)
	}
	created := clk.now()
	tbl, err := c.CreateTable("fleet", "readings", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := Table{
		Database: "fleet", Name: "readings",
		MemoryRetentionHours: 6, MagneticRetentionDays: 73000, MagneticWrites: false,
		CreatedAt: created, UpdatedAt: created,
		Schema: Schema{Measures: map[string]ColumnType{}},
	}
	if !reflect.DeepEqual(tbl, want) {
		t.Fatalf("create with defaults:\ngot  %+v\nwant %+v", tbl, want)
	}
	if _, err := c.CreateTable("fleet", "diagnostics", TableOptions{
		MemoryRetentionHours: ptr(24), MagneticRetentionDays: ptr(365), MagneticWrites: ptr(true),
	}); err != nil {
		t.Fatal(err)
	}

	clk.advance(time.Minute)
	updated := clk.now()
	tbl, err = c.UpdateTable("fleet", "readings", TableOptions{MemoryRetentionHours: ptr(12)})
	if err != nil {
		t.Fatal(err)
	}
	want.MemoryRetentionHours = 12
	want.UpdatedAt = updated
	if !reflect.DeepEqual(tbl, want) {
		t.Fatalf("update one setting:\ngot  %+v\nwant %+v", tbl, want)
	}

	clk.advance(time.Minute)
	if tbl, err = c.UpdateTable("fleet", "readings", TableOptions{MemoryRetentionHours: ptr(12)}); err != nil {
		t.Fatal(err)
	}
	if !tbl.UpdatedAt.Equal(updated) {
		t.Errorf("an update that changes nothing moved UpdatedAt to %v", tbl.UpdatedAt)
	}

	got, err := c.DescribeTable("fleet", "readings")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("describe:\ngot  %+v\nwant %+v", got, want)
	}
	list, err := c.ListTables("fleet")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "diagnostics" || list[1].Name != "readings" {
		t.Errorf("list: got %+v, want diagnostics then readings", list)
	}
	if !list[0].MagneticWrites || list[0].MagneticRetentionDays != 365 || list[0].MemoryRetentionHours != 24 {
		t.Errorf("diagnostics lost its settings: %+v", list[0])
	}
	if err := c.DeleteTable("fleet", "readings"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTable("fleet", "readings"); apierr.CodeOf(err) != CodeTableNotFound {
		t.Errorf("describe after delete: %v", err)
	}
	if db, _ := c.DescribeDatabase("fleet"); db.TableCount != 1 {
		t.Errorf("table count after delete: %d, want 1", db.TableCount)
	}
}

func TestRetentionBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts TableOptions
		code string
	}{
		{"memory 1 h", TableOptions{MemoryRetentionHours: ptr(1)}, ""},
		{"memory 8766 h", TableOptions{MemoryRetentionHours: ptr(8766)}, ""},
		{"memory 0 h", TableOptions{MemoryRetentionHours: ptr(0)}, CodeInvalidRetention},
		{"memory 8767 h", TableOptions{MemoryRetentionHours: ptr(8767)}, CodeInvalidRetention},
		{"memory -1 h", TableOptions{MemoryRetentionHours: ptr(-1)}, CodeInvalidRetention},
		{"magnetic 1 d", TableOptions{MagneticRetentionDays: ptr(1)}, ""},
		{"magnetic 73000 d", TableOptions{MagneticRetentionDays: ptr(73000)}, ""},
		{"magnetic 0 d", TableOptions{MagneticRetentionDays: ptr(0)}, CodeInvalidRetention},
		{"magnetic 73001 d", TableOptions{MagneticRetentionDays: ptr(73001)}, CodeInvalidRetention},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := open(t, NewMemStore(), newClock())
			if _, err := c.CreateDatabase("fleet"); err != nil {
				t.Fatal(err)
			}
			_, err := c.CreateTable("fleet", "created", tc.opts)
			wantCode(t, "create", err, tc.code)
			if _, err := c.CreateTable("fleet", "updated", TableOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err = c.UpdateTable("fleet", "updated", tc.opts)
			wantCode(t, "update", err, tc.code)
			if tc.code != "" {
				got, _ := c.DescribeTable("fleet", "updated")
				if got.MemoryRetentionHours != 6 || got.MagneticRetentionDays != 73000 {
					t.Errorf("a rejected update changed the table: %+v", got)
				}
			}
		})
	}
}

func TestLearnColumns(t *testing.T) {
	clk := newClock()
	c := open(t, NewMemStore(), clk)
	if _, err := c.CreateDatabase("fleet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable("fleet", "readings", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	learned := clk.now()
	tbl, err := c.LearnColumns("fleet", "readings", DimensionColumn("truck"), DimensionColumn("fleet"), MeasureColumn("velocity", Double))
	if err != nil {
		t.Fatal(err)
	}
	want := Schema{Dimensions: []string{"fleet", "truck"}, Measures: map[string]ColumnType{"velocity": Double}}
	if !reflect.DeepEqual(tbl.Schema, want) || !tbl.UpdatedAt.Equal(learned) {
		t.Fatalf("learn: got %+v at %v, want %+v at %v", tbl.Schema, tbl.UpdatedAt, want, learned)
	}

	// The caller's copy is its own.
	tbl.Schema.Measures["velocity"] = Varchar
	tbl.Schema.Dimensions[0] = "changed"

	clk.advance(time.Second)
	_, err = c.LearnColumns("fleet", "readings", MeasureColumn("heading", Double), MeasureColumn("velocity", BigInt))
	var conflict *TypeConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("conflicting type: got %v, want a *TypeConflictError", err)
	}
	if conflict.Existing != MeasureColumn("velocity", Double) || conflict.New != MeasureColumn("velocity", BigInt) {
		t.Errorf("conflict: got %+v", conflict)
	}
	for _, s := range []string{"velocity", "double", "bigint"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("conflict message %q does not name %q", err, s)
		}
	}

	got, err := c.DescribeTable("fleet", "readings")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Schema, want) || !got.UpdatedAt.Equal(learned) {
		t.Errorf("after a rejected write the table is %+v at %v, want %+v at %v (nothing of it learned)", got.Schema, got.UpdatedAt, want, learned)
	}

	// Known columns change nothing, not even UpdatedAt.
	if got, err = c.LearnColumns("fleet", "readings", DimensionColumn("truck"), MeasureColumn("velocity", Double)); err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(learned) {
		t.Errorf("learning known columns moved UpdatedAt to %v", got.UpdatedAt)
	}
}

// failingStore fails every Save once armed.
type failingStore struct {
	MemStore
	fail bool
}

func (s *failingStore) Save(data []byte) error {
	if s.fail {
		return errors.New("disk on fire")
	}
	return s.MemStore.Save(data)
}

func TestFailedSaveChangesNothing(t *testing.T) {
	s := &failingStore{}
	c := open(t, s, newClock())
	if _, err := c.CreateDatabase("fleet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDatabase("empty"); err != nil {
		t.Fatal(err)
	}
	before, err := c.CreateTable("fleet", "readings", TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.fail = true
	for name, op := range map[string]func() error{
		"create database": func() error { _, err := c.CreateDatabase("new"); return err },
		"delete database": func() error { return c.DeleteDatabase("empty") },
		"create table":    func() error { _, err := c.CreateTable("fleet", "new", TableOptions{}); return err },
		"update table": func() error {
			_, err := c.UpdateTable("fleet", "readings", TableOptions{MagneticWrites: ptr(true)})
			return err
		},
		"learn columns": func() error { _, err := c.LearnColumns("fleet", "readings", DimensionColumn("truck")); return err },
		"delete table":  func() error { return c.DeleteTable("fleet", "readings") },
	} {
		err := op()
		if err == nil || apierr.CodeOf(err) != "InternalFailure" || !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("%s with a failing store: got %v, want the store's error", name, err)
		}
	}
	if n := len(c.ListDatabases()); n != 2 {
		t.Errorf("%d databases after failed saves, want 2", n)
	}
	got, err := c.DescribeTable("fleet", "readings")
	if err != nil || !reflect.DeepEqual(got, before) {
		t.Errorf("table after failed saves: %+v, %v; want %+v", got, err, before)
	}
	if _, err := c.DescribeTable("fleet", "new"); apierr.CodeOf(err) != CodeTableNotFound {
		t.Errorf("a table whose save failed exists: %v", err)
	}
}

func TestConcurrentCreates(t *testing.T) {
	c := open(t, NewMemStore(), newClock())
	const n = 32
	race := func(create func() error) (wins int, codes map[string]int) {
		codes = map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				err := create()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else {
					codes[apierr.CodeOf(err)]++
				}
			})
		}
		wg.Wait()
		return wins, codes
	}
	wins, codes := race(func() error { _, err := c.CreateDatabase("fleet"); return err })
	if wins != 1 || codes[CodeDatabaseExists] != n-1 {
		t.Errorf("concurrent database creates: %d won, losers' codes %v; want 1 and %d %s", wins, codes, n-1, CodeDatabaseExists)
	}
	wins, codes = race(func() error { _, err := c.CreateTable("fleet", "readings", TableOptions{}); return err })
	if wins != 1 || codes[CodeTableExists] != n-1 {
		t.Errorf("concurrent table creates: %d won, losers' codes %v; want 1 and %d %s", wins, codes, n-1, CodeTableExists)
	}
	var i sync.Mutex
	next := 0
	wins, codes = race(func() error {
		i.Lock()
		name := fmt.Sprintf("t%03d", next)
		next++
		i.Unlock()
		_, err := c.CreateTable("fleet", name, TableOptions{})
		return err
	})
	if wins != n {
		t.Errorf("concurrent creates of different tables: %d won, codes %v; want all %d", wins, codes, n)
	}
	if db, _ := c.DescribeDatabase("fleet"); db.TableCount != n+1 {
		t.Errorf("table count %d, want %d", db.TableCount, n+1)
	}
}
