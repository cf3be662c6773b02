package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

func TestTableCommands(t *testing.T) {
	dir := t.TempDir()
	cat, err := tables.Open(tables.NewFileStore(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs, _ := servertest.StartAPI(t, dir, server.Options{Tables: cat})
	// The token comes from the data dir, as on a server's own machine.
	run, mustRun := cliRunner(t, newTableCmd, hs.URL, dir)

	out := mustRun("db", "create", "metrics")
	if row(t, out, "database:")[1] != "metrics" || row(t, out, "tables:")[1] != "0" {
		t.Fatalf("db create printed\n%s", out)
	}
	out = mustRun("create", "metrics", "cpu", "--memory-retention", "12h", "--magnetic-retention", "365d", "--magnetic-writes")
	if row(t, out, "memory")[2] != "12h" || row(t, out, "magnetic")[2] != "365d" || !strings.Contains(out, "magnetic writes:     true") ||
		!strings.Contains(out, "no columns yet") {
		t.Fatalf("create printed\n%s", out)
	}
	mustRun("create", "metrics", "mem")
	if _, err := cat.LearnColumns("metrics", "cpu", tables.DimensionColumn("host"), tables.MeasureColumn("usage", tables.Double)); err != nil {
		t.Fatal(err)
	}

	out = mustRun("describe", "metrics", "cpu")
	if r := row(t, out, "host"); r[1] != "dimension" || r[2] != "varchar" {
		t.Fatalf("describe printed\n%s", out)
	}
	if r := row(t, out, "usage"); r[1] != "measure" || r[2] != "double" {
		t.Fatalf("describe printed\n%s", out)
	}

	out = mustRun("ls", "metrics")
	if !strings.HasPrefix(out, "NAME") || !slicesEqual(row(t, out, "cpu")[1:4], []string{"12h", "365d", "true"}) ||
		!slicesEqual(row(t, out, "mem")[1:4], []string{"6h", "73000d", "false"}) {
		t.Fatalf("ls printed\n%s", out)
	}
	out = mustRun("db", "ls")
	if row(t, out, "metrics")[1] != "2" {
		t.Fatalf("db ls printed\n%s", out)
	}

	out = mustRun("update", "metrics", "cpu", "--magnetic-retention", "30", "--magnetic-writes=false", "-o", "json")
	var tbl wire.Table
	if err := json.Unmarshal([]byte(out), &tbl); err != nil {
		t.Fatalf("update -o json: %v\n%s", err, out)
	}
	if tbl.MemoryRetentionHours != 12 || tbl.MagneticRetentionDays != 30 || tbl.MagneticWrites || len(tbl.Schema.Dimensions) != 1 {
		t.Fatalf("update: %+v", tbl)
	}
	if _, err := run("update", "metrics", "cpu"); err == nil || !strings.Contains(err.Error(), "nothing to update") {
		t.Fatalf("update without changes: %v", err)
	}
	if _, err := run("update", "metrics", "cpu", "--memory-retention", "90m"); err == nil || !strings.Contains(err.Error(), "whole number of hours") {
		t.Fatalf("update with 90m: %v", err)
	}
	if _, err := run("create", "metrics", "disk", "--magnetic-retention", "1y"); err == nil || !strings.Contains(err.Error(), "365d") {
		t.Fatalf("create with 1y: %v", err)
	}
	if _, err := run("create", "metrics", "disk", "--memory-retention", "9000h"); err == nil || !strings.Contains(err.Error(), "8766") {
		t.Fatalf("create with 9000h: %v", err)
	}

	var dbs wire.ListDatabasesResponse
	if err := json.Unmarshal([]byte(mustRun("db", "ls", "-o", "json")), &dbs); err != nil || len(dbs.Databases) != 1 || dbs.Databases[0].TableCount != 2 {
		t.Fatalf("db ls -o json: %+v %v", dbs, err)
	}
	if _, err := run("db", "delete", "metrics"); err == nil || !strings.Contains(err.Error(), "delete them first") {
		t.Fatalf("delete a database with tables: %v", err)
	}
	if out := mustRun("delete", "metrics", "cpu"); out != "deleted table metrics.cpu\n" {
		t.Fatalf("delete printed %q", out)
	}
	mustRun("delete", "metrics", "mem")
	if _, err := run("describe", "metrics", "cpu"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("describe a deleted table: %v", err)
	}
	if out := mustRun("db", "delete", "metrics"); out != "deleted database metrics\n" {
		t.Fatalf("db delete printed %q", out)
	}
	if _, err := run("db", "describe", "metrics"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("describe a deleted database: %v", err)
	}
}
