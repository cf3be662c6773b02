package server_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fixed bug (error reporting): a line protocol point whose measurement cannot name an eddy
// table (InfluxDB allows "cpu:load", Prometheus-style names, spaces, '/') is answered 404
// TableNotFound "table "cpu:load" does not exist": createOnWrite drops the InvalidName
// error CreateTable gave. The user is told to create a table that cannot be created, and
// Telegraf keeps retrying a 404 body. Fix: when the creation fails for another reason
// than TableExists, reject the points with that error (InvalidName, 400).
func TestReview2InfluxInvalidMeasurementNameReportedAsNotFound(t *testing.T) {
	clock := &testClock{t: time.Now()}
	c, _ := startTablesService(t, clock)
	ms := strconv.FormatInt(clock.Now().UnixMilli(), 10)
	r := c.do("POST", "/write?db=fleet&precision=ms", "cpu:load,host=a v=1 "+ms, "Authorization", "Token "+c.token)
	if r.status == 404 || strings.Contains(string(r.body), "TableNotFound") || !strings.Contains(string(r.body), "InvalidName") {
		t.Fatalf("a point of a measurement no table can be named after: %d %s", r.status, r.body)
	}
}

// Fixed bug (error reporting): a point of measurement "CPU" in a database with a table "cpu":
// the write does not find "CPU", CreateTable answers TableExists (names are
// case-insensitive), createOnWrite takes that as "created meanwhile" and retries, and
// the point is rejected with 404 TableNotFound "table "CPU" does not exist" — which a
// creation would contradict. Fix: on TableExists after TableNotFound, report that the
// name differs only in case from an existing table (400), or write to that table.
func TestReview2InfluxMeasurementDifferingInCase(t *testing.T) {
	clock := &testClock{t: time.Now()}
	c, _ := startTablesService(t, clock) // has fleet.cpu
	ms := strconv.FormatInt(clock.Now().UnixMilli(), 10)
	r := c.do("POST", "/write?db=fleet&precision=ms", "CPU,host=a usage_user=1 "+ms, "Authorization", "Token "+c.token)
	if r.status == 404 || strings.Contains(string(r.body), "does not exist") {
		t.Fatalf("a point of measurement CPU next to table cpu: %d %s", r.status, r.body)
	}
}
