package tables

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
)

// TestReopen fills a catalog, opens the same store again, and expects the same catalog:
// run against every store, the file store in a fresh directory.
func TestReopen(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) Store{
		"mem":  func(*testing.T) Store { return NewMemStore() },
		"file": func(t *testing.T) Store { return NewFileStore(t.TempDir()) },
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			s := newStore(t)
			c := open(t, s, clk)
			for _, db := range []string{"fleet", "hosts", "gone"} {
				if _, err := c.CreateDatabase(db); err != nil {
					t.Fatal(err)
				}
				clk.advance(time.Second)
			}
			if _, err := c.CreateTable("fleet", "readings", TableOptions{MagneticWrites: ptr(true)}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTable("fleet", "diagnostics", TableOptions{MemoryRetentionHours: ptr(48), MagneticRetentionDays: ptr(30)}); err != nil {
				t.Fatal(err)
			}
			clk.advance(time.Minute)
			if _, err := c.LearnColumns("fleet", "readings", DimensionColumn("truck"), MeasureColumn("velocity", Double), MeasureColumn("at", Timestamp)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTable("hosts", "cpu", TableOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteDatabase("gone"); err != nil {
				t.Fatal(err)
			}

			r := open(t, s, clk)
			if got, want := r.ListDatabases(), c.ListDatabases(); !reflect.DeepEqual(got, want) {
				t.Errorf("databases after reopen:\ngot  %+v\nwant %+v", got, want)
			}
			for _, db := range []string{"fleet", "hosts"} {
				got, err := r.ListTables(db)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := c.ListTables(db)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("tables of %s after reopen:\ngot  %+v\nwant %+v", db, got, want)
				}
			}
			if _, err := r.DescribeDatabase("gone"); apierr.CodeOf(err) != CodeDatabaseNotFound {
				t.Errorf("deleted database after reopen: %v", err)
			}
			// The reopened catalog keeps enforcing the learned schema.
			if _, err := r.LearnColumns("fleet", "readings", MeasureColumn("truck", Varchar)); apierr.CodeOf(err) != CodeTypeConflict {
				t.Errorf("dimension reused as a measure after reopen: %v", err)
			}
		})
	}
}

func TestFileStoreLayout(t *testing.T) {
	dir := t.TempDir()
	s := NewFileStore(dir)
	if want := dir + "/tables/catalog.json"; s.Path() != want {
		t.Errorf("path %s, want %s", s.Path(), want)
	}
	if data, err := s.Load(); err != nil || data != nil {
		t.Fatalf("load before any save: %q, %v; want nothing", data, err)
	}
	c := open(t, s, newClock())
	if _, err := c.CreateDatabase("fleet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTable("fleet", "readings", TableOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("catalog is not JSON: %v\n%s", err, data)
	}
	if doc["version"] != float64(1) {
		t.Errorf("version %v, want 1", doc["version"])
	}
	for _, s := range []string{`"memoryRetentionHours": 6`, `"magneticRetentionDays": 73000`, `"magneticWrites": false`, `"dimensions": []`, `"createdAt": "2026-01-02T03:04:05.123456789Z"`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("catalog lacks %s:\n%s", s, data)
		}
	}
	entries, err := os.ReadDir(dir + "/tables")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("tables directory holds %d entries, want only catalog.json (no temporary files left)", len(entries))
	}
}

func TestOpenRejectsBadCatalog(t *testing.T) {
	const table = `{"name":"readings","memoryRetentionHours":%s,"magneticRetentionDays":73000,"magneticWrites":false,` +
		`"createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z","schema":%s}`
	doc := func(hours, schema string) string {
		return `{"version":1,"databases":[{"name":"fleet","createdAt":"2026-01-02T03:04:05Z","tables":[` +
			strings.Replace(strings.Replace(table, "%s", hours, 1), "%s", schema, 1) + `]}]}`
	}
	okSchema := `{"dimensions":["truck"],"measures":{"velocity":"double"}}`
	for _, tc := range []struct {
		name, data, want string
	}{
		{"newer version", `{"version":2,"databases":[]}`, "version 2"},
		{"not JSON", `{"version":`, "decode"},
		{"unknown field", `{"version":1,"databases":[],"extra":true}`, "unknown field"},
		{"bad retention", doc("0", okSchema), "memory retention"},
		{"bad type", doc("6", `{"dimensions":[],"measures":{"velocity":"float"}}`), "float"},
		{"name in both roles", doc("6", `{"dimensions":["velocity"],"measures":{"velocity":"double"}}`), "velocity"},
		{"bad database name", `{"version":1,"databases":[{"name":"x","createdAt":"2026-01-02T03:04:05Z","tables":[]}]}`, "database name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemStore()
			_ = s.Save([]byte(tc.data))
			_, err := Open(s, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("open: got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	s := NewMemStore()
	_ = s.Save([]byte(doc("6", okSchema)))
	c, err := Open(s, nil)
	if err != nil {
		t.Fatalf("open a good catalog: %v", err)
	}
	tbl, err := c.DescribeTable("fleet", "readings")
	if err != nil || tbl.Schema.Measures["velocity"] != Double {
		t.Errorf("good catalog read as %+v, %v", tbl, err)
	}
}
