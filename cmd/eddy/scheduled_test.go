package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

func TestScheduledQueryCommands(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	eng, err := sql.Open(sql.Options{AllowedDirs: []string{dir}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := tables.Open(tables.NewFileStore(dir), clock)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tables.NewService(context.Background(), cat, eng, tables.Options{DataDir: filepath.Join(dir, "tables"), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.CreateDatabase("metrics"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cpu", "cpu_hourly"} {
		if _, err := svc.CreateTable("metrics", name, tables.TableOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var recs []tables.Record
	for at := now.Add(-2 * time.Hour); at.Before(now); at = at.Add(10 * time.Minute) {
		recs = append(recs, tables.Record{
			Time: at.UnixMilli(), Dimensions: []tables.Dimension{{Name: "hostname", Value: "host_1"}}, MeasureName: "cpu",
			Measures: []tables.Measure{{Name: "usage_user", Value: tables.DoubleValue(float64(at.Minute()))}},
		})
	}
	if _, err := svc.Write(context.Background(), "metrics", "cpu", &tables.WriteRequest{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Sync("metrics", "cpu"); err != nil {
		t.Fatal(err)
	}
	hs, _ := servertest.StartAPI(t, dir, server.Options{Tables: svc, TableWriter: svc, Query: eng})

	run, mustRun := cliRunner(t, newScheduledQueryCmd, hs.URL, dir)

	query := `SELECT hostname, bin(time, INTERVAL 1 HOUR) AS hour, avg(usage_user) AS mean_usage_user FROM metrics.cpu
		WHERE time >= @scheduled_runtime - INTERVAL 1 HOUR AND time < @scheduled_runtime GROUP BY ALL`
	out := mustRun("create", "cpu_hourly", "--query", query, "--every", "rate(1 hour)", "--target", "metrics.cpu_hourly",
		"--time-column", "hour", "--dimensions", "hostname", "--measure-name", "hourly")
	if row(t, out, "schedule:")[1] != "rate(1" || row(t, out, "target:")[1] != "metrics.cpu_hourly" ||
		row(t, out, "dimensions:")[1] != "hostname" || row(t, out, "measure")[2] != "hourly" || row(t, out, "next")[2] != "2026-11-25T13:00:00Z" ||
		!strings.Contains(out, "not run yet") {
		t.Fatalf("create printed\n%s", out)
	}
	if _, err := run("create", "bad", "--query", query, "--every", "1h", "--target", "cpu_hourly"); err == nil || !strings.Contains(err.Error(), "DATABASE.TABLE") {
		t.Fatalf("create with a bad target: %v", err)
	}
	if _, err := run("create", "other", "--query", query, "--every", "10s", "--target", "metrics.cpu_hourly", "--time-column", "hour"); err == nil ||
		!strings.Contains(err.Error(), "InvalidSchedule") {
		t.Fatalf("create with a 10s schedule: %v", err)
	}

	out = mustRun("run", "cpu_hourly", "--at", "2026-11-25T11:00:00Z")
	if row(t, out, "rows")[2] != "1" || row(t, out, "status:")[1] != "ok" || !strings.Contains(out, "(manual)") {
		t.Fatalf("run printed\n%s", out)
	}
	if _, err := run("run", "cpu_hourly", "--at", "yesterday"); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("run at yesterday: %v", err)
	}

	out = mustRun("disable", "cpu_hourly")
	if row(t, out, "enabled:")[1] != "false" || strings.Contains(out, "next invocation") {
		t.Fatalf("disable printed\n%s", out)
	}
	out = mustRun("ls")
	if r := row(t, out, "cpu_hourly"); r[4] != "false" || r[6] != "2026-11-25T11:00:00Z" || r[7] != "1" || r[8] != "ok" { // "rate(1 hour)" is two fields
		t.Fatalf("ls printed\n%s", out)
	}
	mustRun("enable", "cpu_hourly")
	var q wire.ScheduledQuery
	if err := json.Unmarshal([]byte(mustRun("describe", "cpu_hourly", "-o", "json")), &q); err != nil {
		t.Fatal(err)
	}
	if !q.Enabled || q.LastRun == nil || q.LastRun.RowsWritten != 1 || q.Target.MeasureName != "hourly" {
		t.Fatalf("describe -o json: %+v", q)
	}

	// A failed run prints its outcome and exits with an error.
	if err := svc.DeleteTable("metrics", "cpu_hourly"); err != nil {
		t.Fatal(err)
	}
	out, err = run("run", "cpu_hourly", "--at", "2026-11-25T12:00:00Z")
	if err == nil || !strings.Contains(err.Error(), "does not exist") || row(t, out, "status:")[1] != "failed" {
		t.Fatalf("run without a target: %v\n%s", err, out)
	}
	if out := mustRun("delete", "cpu_hourly"); out != "deleted scheduled query cpu_hourly\n" {
		t.Fatalf("delete printed %q", out)
	}
	if _, err := run("describe", "cpu_hourly"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("describe a deleted query: %v", err)
	}
}
