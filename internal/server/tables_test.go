package server_test

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// tablesServer is an API server over a real catalog kept in a file store under dir.
type tablesServer struct {
	*caller
	catalog *tables.Catalog
	close   func()
}

// startTables starts a server whose catalog is read from dir, as eddy serve does.
func startTables(t *testing.T, dir string, now func() time.Time) *tablesServer {
	t.Helper()
	cat, err := tables.Open(tables.NewFileStore(dir), now)
	if err != nil {
		t.Fatal(err)
	}
	hs, token := servertest.StartAPI(t, dir, server.Options{Tables: cat})
	return &tablesServer{caller: &caller{t: t, url: hs.URL, token: token}, catalog: cat, close: hs.Close}
}

func TestTableLifecycle(t *testing.T) {
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	c := startTables(t, t.TempDir(), now)

	r := c.do("POST", "/v1/databases", `{"name":"metrics"}`)
	if r.status != 201 || r.header.Get("Location") != "/v1/databases/metrics" {
		t.Fatalf("create database: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	var db wire.Database
	c.json("GET", "/v1/databases/metrics", "", 200, &db)
	if db.Name != "metrics" || !db.CreatedAt.Equal(clock) || db.TableCount != 0 {
		t.Fatalf("describe database: %+v", db)
	}

	clock = clock.Add(time.Hour)
	r = c.do("POST", "/v1/databases/metrics/tables", `{"name":"cpu","memoryRetentionHours":12,"magneticWrites":true}`)
	if r.status != 201 || r.header.Get("Location") != "/v1/databases/metrics/tables/cpu" {
		t.Fatalf("create table: %d %s %s", r.status, r.header.Get("Location"), r.body)
	}
	want := `{"database":"metrics","name":"cpu","memoryRetentionHours":12,"magneticRetentionDays":73000,"magneticWrites":true,` +
		`"createdAt":"2025-03-01T13:00:00Z","updatedAt":"2025-03-01T13:00:00Z","schema":{"dimensions":[],"measures":[]}}` + "\n"
	if string(r.body) != want {
		t.Fatalf("create table answered\n%s\nwant\n%s", r.body, want)
	}
	c.json("POST", "/v1/databases/metrics/tables", `{"name":"mem"}`, 201, nil)

	if _, err := c.catalog.LearnColumns("metrics", "cpu", tables.DimensionColumn("region"), tables.DimensionColumn("host"),
		tables.MeasureColumn("usage", tables.Double), tables.MeasureColumn("cores", tables.BigInt)); err != nil {
		t.Fatal(err)
	}
	var tbl wire.Table
	c.json("GET", "/v1/databases/metrics/tables/cpu", "", 200, &tbl)
	if got := tbl.Schema; len(got.Dimensions) != 2 || got.Dimensions[0] != "host" || got.Dimensions[1] != "region" ||
		len(got.Measures) != 2 || got.Measures[0] != (wire.Measure{Name: "cores", Type: "bigint"}) || got.Measures[1] != (wire.Measure{Name: "usage", Type: "double"}) {
		t.Fatalf("schema: %+v", got)
	}

	var list wire.ListTablesResponse
	c.json("GET", "/v1/databases/metrics/tables", "", 200, &list)
	if len(list.Tables) != 2 || list.Tables[0].Name != "cpu" || list.Tables[1].Name != "mem" || list.Tables[1].MemoryRetentionHours != 6 || list.Tables[1].MagneticWrites {
		t.Fatalf("list tables: %+v", list)
	}
	var dbs wire.ListDatabasesResponse
	c.json("GET", "/v1/databases", "", 200, &dbs)
	if len(dbs.Databases) != 1 || dbs.Databases[0].TableCount != 2 {
		t.Fatalf("list databases: %+v", dbs)
	}

	clock = clock.Add(time.Hour)
	c.json("PATCH", "/v1/databases/metrics/tables/cpu", `{"magneticRetentionDays":365,"magneticWrites":false}`, 200, &tbl)
	if tbl.MemoryRetentionHours != 12 || tbl.MagneticRetentionDays != 365 || tbl.MagneticWrites || !tbl.UpdatedAt.Equal(clock) || len(tbl.Schema.Measures) != 2 {
		t.Fatalf("update: %+v", tbl)
	}

	wantError(t, c.do("DELETE", "/v1/databases/metrics", ""), 409, tables.CodeDatabaseNotEmpty, "2 tables")
	for _, name := range []string{"cpu", "mem"} {
		if r := c.do("DELETE", "/v1/databases/metrics/tables/"+name, ""); r.status != 204 || len(r.body) != 0 {
			t.Fatalf("delete table %s: %d %s", name, r.status, r.body)
		}
	}
	c.json("GET", "/v1/databases/metrics/tables", "", 200, &list)
	if list.Tables == nil || len(list.Tables) != 0 {
		t.Fatalf("tables after delete: %s", c.do("GET", "/v1/databases/metrics/tables", "").body)
	}
	if r := c.do("DELETE", "/v1/databases/metrics", ""); r.status != 204 {
		t.Fatalf("delete database: %d %s", r.status, r.body)
	}
	c.json("GET", "/v1/databases", "", 200, &dbs)
	if dbs.Databases == nil || len(dbs.Databases) != 0 {
		t.Fatalf("databases after delete: %+v", dbs)
	}
}

func TestTableErrors(t *testing.T) {
	c := startTables(t, t.TempDir(), nil)
	c.json("POST", "/v1/databases", `{"name":"metrics"}`, 201, nil)
	c.json("POST", "/v1/databases/metrics/tables", `{"name":"cpu"}`, 201, nil)

	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
		parts              []string
	}{
		{"POST", "/v1/databases", `{"name":"metrics"}`, 409, tables.CodeDatabaseExists, []string{"metrics"}},
		{"POST", "/v1/databases", `{"name":"ab"}`, 400, tables.CodeInvalidName, []string{"3 to 256"}},
		{"POST", "/v1/databases", `{"name":"a b c"}`, 400, tables.CodeInvalidName, nil},
		{"POST", "/v1/databases", `{}`, 400, "MissingParameter", []string{"name"}},
		{"POST", "/v1/databases", `{"name":`, 400, "MalformedJSON", nil},
		{"POST", "/v1/databases", `{"name":"x1x","tables":1}`, 400, "UnknownField", []string{"tables"}},
		{"GET", "/v1/databases/ghost", "", 404, tables.CodeDatabaseNotFound, []string{"ghost"}},
		{"DELETE", "/v1/databases/ghost", "", 404, tables.CodeDatabaseNotFound, nil},
		{"DELETE", "/v1/databases/metrics", "", 409, tables.CodeDatabaseNotEmpty, nil},
		{"POST", "/v1/databases/ghost/tables", `{"name":"cpu"}`, 404, tables.CodeDatabaseNotFound, nil},
		{"POST", "/v1/databases/metrics/tables", `{"name":"cpu"}`, 409, tables.CodeTableExists, []string{"cpu"}},
		{"POST", "/v1/databases/metrics/tables", `{"name":"cpu!"}`, 400, tables.CodeInvalidName, nil},
		{"POST", "/v1/databases/metrics/tables", `{"memoryRetentionHours":6}`, 400, "MissingParameter", nil},
		{"POST", "/v1/databases/metrics/tables", `{"name":"mem","memoryRetentionHours":0}`, 400, tables.CodeInvalidRetention, []string{"1 to 8766 hours"}},
		{"POST", "/v1/databases/metrics/tables", `{"name":"mem","magneticRetentionDays":73001}`, 400, tables.CodeInvalidRetention, []string{"1 to 73000 days"}},
		{"POST", "/v1/databases/metrics/tables", `{"name":"mem","magneticWrites":"yes"}`, 400, "MalformedJSON", []string{"magneticWrites"}},
		{"GET", "/v1/databases/ghost/tables", "", 404, tables.CodeDatabaseNotFound, nil},
		{"GET", "/v1/databases/metrics/tables/ghost", "", 404, tables.CodeTableNotFound, []string{"ghost"}},
		{"GET", "/v1/databases/ghost/tables/cpu", "", 404, tables.CodeDatabaseNotFound, nil},
		{"PATCH", "/v1/databases/metrics/tables/cpu", `{}`, 400, "EmptyUpdate", nil},
		{"PATCH", "/v1/databases/metrics/tables/cpu", `{"memoryRetentionHours":8767}`, 400, tables.CodeInvalidRetention, nil},
		{"PATCH", "/v1/databases/metrics/tables/ghost", `{"magneticWrites":true}`, 404, tables.CodeTableNotFound, nil},
		{"DELETE", "/v1/databases/metrics/tables/ghost", "", 404, tables.CodeTableNotFound, nil},
		{"PUT", "/v1/databases/metrics", "", 405, "MethodNotAllowed", []string{"DELETE", "GET"}},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			wantError(t, c.do(tc.method, tc.path, tc.body), tc.status, tc.code, tc.parts...)
		})
	}
	wantError(t, c.do("GET", "/v1/databases", "", "Authorization", ""), 401, "Unauthenticated")
	wantError(t, c.do("POST", "/v1/databases", `{"name":"sneaky"}`, "Authorization", "Bearer nope"), 401, "Unauthenticated")

	// A refused update leaves the table as it was.
	var tbl wire.Table
	c.json("GET", "/v1/databases/metrics/tables/cpu", "", 200, &tbl)
	if tbl.MemoryRetentionHours != 6 {
		t.Fatalf("table after refused update: %+v", tbl)
	}
}

func TestTablesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	c := startTables(t, dir, nil)
	c.json("POST", "/v1/databases", `{"name":"metrics"}`, 201, nil)
	c.json("POST", "/v1/databases/metrics/tables", `{"name":"cpu","magneticRetentionDays":30}`, 201, nil)
	c.json("PATCH", "/v1/databases/metrics/tables/cpu", `{"memoryRetentionHours":48}`, 200, nil)
	if _, err := c.catalog.LearnColumns("metrics", "cpu", tables.DimensionColumn("host"), tables.MeasureColumn("up", tables.Boolean)); err != nil {
		t.Fatal(err)
	}
	var before wire.Table
	c.json("GET", "/v1/databases/metrics/tables/cpu", "", 200, &before)
	c.close()

	c = startTables(t, dir, nil)
	var after wire.Table
	c.json("GET", "/v1/databases/metrics/tables/cpu", "", 200, &after)
	if after.MemoryRetentionHours != 48 || after.MagneticRetentionDays != 30 || !after.CreatedAt.Equal(before.CreatedAt) || !after.UpdatedAt.Equal(before.UpdatedAt) ||
		len(after.Schema.Dimensions) != 1 || len(after.Schema.Measures) != 1 || after.Schema.Measures[0] != (wire.Measure{Name: "up", Type: "boolean"}) {
		t.Fatalf("after restart: %+v\nbefore: %+v", after, before)
	}
	var db wire.Database
	c.json("GET", "/v1/databases/metrics", "", 200, &db)
	if db.TableCount != 1 {
		t.Fatalf("database after restart: %+v", db)
	}
}

func TestTablesAbsentWithoutCatalog(t *testing.T) {
	hs, token := servertest.StartAPI(t, t.TempDir(), server.Options{})
	c := &caller{t: t, url: hs.URL, token: token}
	wantError(t, c.do("GET", "/v1/databases", ""), 404, "UnknownEndpoint")
}
