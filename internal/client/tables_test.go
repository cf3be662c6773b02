package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

func TestTables(t *testing.T) {
	dir := t.TempDir()
	cat, err := tables.Open(tables.NewFileStore(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	hs, token := servertest.StartAPI(t, dir, server.Options{Tables: cat})
	c := client.New(hs.URL, token, nil)
	ctx := context.Background()

	if db, err := c.CreateDatabase(ctx, "sensors"); err != nil || db.Name != "sensors" || db.CreatedAt.IsZero() {
		t.Fatalf("create database: %+v %v", db, err)
	}
	days, writes := 90, true
	tbl, err := c.CreateTable(ctx, "sensors", wire.CreateTableRequest{Name: "temp.c", MagneticRetentionDays: &days, MagneticWrites: &writes})
	if err != nil || tbl.Name != "temp.c" || tbl.MagneticRetentionDays != 90 || !tbl.MagneticWrites || tbl.MemoryRetentionHours != 6 {
		t.Fatalf("create table: %+v %v", tbl, err)
	}
	if _, err := cat.LearnColumns("sensors", "temp.c", tables.MeasureColumn("celsius", tables.Double)); err != nil {
		t.Fatal(err)
	}
	if tbl, err = c.DescribeTable(ctx, "sensors", "temp.c"); err != nil || len(tbl.Schema.Measures) != 1 || tbl.Schema.Measures[0].Type != "double" {
		t.Fatalf("describe table: %+v %v", tbl, err)
	}
	hours := 24
	if tbl, err = c.UpdateTable(ctx, "sensors", "temp.c", wire.UpdateTableRequest{MemoryRetentionHours: &hours}); err != nil || tbl.MemoryRetentionHours != 24 || tbl.MagneticRetentionDays != 90 {
		t.Fatalf("update table: %+v %v", tbl, err)
	}
	if list, err := c.ListTables(ctx, "sensors"); err != nil || len(list) != 1 || list[0].MemoryRetentionHours != 24 {
		t.Fatalf("list tables: %+v %v", list, err)
	}
	if dbs, err := c.ListDatabases(ctx); err != nil || len(dbs) != 1 || dbs[0].TableCount != 1 {
		t.Fatalf("list databases: %+v %v", dbs, err)
	}

	var e *apierr.Error
	if err := c.DeleteDatabase(ctx, "sensors"); !errors.As(err, &e) || e.Code != tables.CodeDatabaseNotEmpty || e.Kind != apierr.Conflict {
		t.Fatalf("delete a database with tables: %#v", err)
	}
	if err := c.DeleteTable(ctx, "sensors", "temp.c"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTable(ctx, "sensors", "temp.c"); !errors.As(err, &e) || e.Code != tables.CodeTableNotFound || e.Kind != apierr.NotFound {
		t.Fatalf("describe a deleted table: %#v", err)
	}
	if err := c.DeleteDatabase(ctx, "sensors"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeDatabase(ctx, "sensors"); !errors.As(err, &e) || e.Code != tables.CodeDatabaseNotFound {
		t.Fatalf("describe a deleted database: %#v", err)
	}
}
