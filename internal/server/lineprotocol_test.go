package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/tables"
)

func TestLineProtocol(t *testing.T) {
	fw := &fakeWriter{}
	c := startWrites(t, fw)
	body := "cpu,host=a,region=eu usage_user=58,usage_system=2.5,cores=8i,big=9223372036854775807u,state=\"ok \\\"go\\\"\",up=true 1764000000000\n" +
		"# a comment, then a blank line\n\n" +
		"mem,host=a used=1024i 1764000000001\n" +
		"cpu,host=b usage_user=1 1764000000002\n" +
		"cpu,host=c usage_user=2\n"
	before := time.Now()
	r := c.do("POST", "/api/v2/write?org=any&bucket=metrics&precision=ms", body, "Authorization", "Token "+c.token)
	after := time.Now()
	if r.status != 204 || len(r.body) != 0 {
		t.Fatalf("write answered %d %s", r.status, r.body)
	}
	w := fw.taken()
	if len(w) != 2 || w[0].table != "cpu" || w[1].table != "mem" || w[0].db != "metrics" || len(w[0].req.Records) != 3 || len(w[1].req.Records) != 1 {
		t.Fatalf("writer got %+v", w)
	}
	cpu := w[0].req
	if cpu.Common.MeasureName != "cpu" || cpu.Common.TimeUnit != tables.Nanoseconds {
		t.Fatalf("common attributes %+v", cpu.Common)
	}
	r0 := cpu.Records[0]
	if r0.Time != 1764000000000*int64(time.Millisecond) || fmt.Sprint(r0.Dimensions) != "[{host a} {region eu}]" {
		t.Fatalf("first point: %+v", r0)
	}
	want := []tables.Measure{
		{Name: "usage_user", Value: tables.DoubleValue(58)}, {Name: "usage_system", Value: tables.DoubleValue(2.5)},
		{Name: "cores", Value: tables.BigIntValue(8)}, {Name: "big", Value: tables.BigIntValue(1<<63 - 1)},
		{Name: "state", Value: tables.VarcharValue(`ok "go"`)}, {Name: "up", Value: tables.BooleanValue(true)},
	}
	if fmt.Sprint(r0.Measures) != fmt.Sprint(want) {
		t.Fatalf("first point's measures\n%v\nwant\n%v", r0.Measures, want)
	}
	if ts := time.Unix(0, cpu.Records[2].Time); ts.Before(before) || ts.After(after) {
		t.Fatalf("a point without a time got %s, not the time of the request (%s to %s)", ts, before, after)
	}

	// InfluxDB 1.x: the token as ?p= or as the basic auth password; precision s; "db/rp" buckets.
	r = c.do("POST", "/write?db=metrics&u=me&p="+url.QueryEscape(c.token)+"&precision=s", "disk free=1i 10", "Authorization", "")
	if r.status != 204 {
		t.Fatalf("v1 write with ?p=: %d %s", r.status, r.body)
	}
	if w := fw.taken(); w[2].table != "disk" || w[2].req.Records[0].Time != 10*int64(time.Second) {
		t.Fatalf("v1 write: %+v", w[2])
	}
	r = c.do("POST", "/write?db=metrics", "disk free=1i 10", "Authorization", basic("me", c.token))
	if r.status != 204 {
		t.Fatalf("v1 write with basic auth: %d %s", r.status, r.body)
	}
	r = c.do("POST", "/api/v2/write?bucket=metrics/autogen", "disk free=1i 10", "Authorization", "Token me:"+c.token)
	if r.status != 204 || fw.taken()[4].db != "metrics" {
		t.Fatalf("v2 write to db/rp with Token user:password: %d %s", r.status, r.body)
	}

	// Gzip, as Telegraf sends by default.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("disk free=2i 11\n"))
	_ = zw.Close()
	r = c.do("POST", "/api/v2/write?bucket=metrics", gz.String(), "Content-Encoding", "gzip")
	if r.status != 204 || fw.taken()[5].req.Records[0].Measures[0].Value != tables.BigIntValue(2) {
		t.Fatalf("gzipped write: %d %s", r.status, r.body)
	}
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

func TestLineProtocolErrors(t *testing.T) {
	fw := &fakeWriter{}
	c := startWrites(t, fw)
	v2 := "/api/v2/write?bucket=metrics"

	r := c.do("POST", v2, "cpu,host=a usage=1 1\ncpu,host=a usage= 2\ncpu usage=3 3\n")
	wantError(t, r, 400, "InvalidLineProtocol", "line 2, column")
	r = c.do("POST", v2, "cpu,host=a big=9223372036854775808u 1\n")
	wantError(t, r, 400, "InvalidLineProtocol", "point 1: field \"big\"", "beyond a bigint")
	r = c.do("POST", v2, "cpu,host=a,host=b usage=1 1\n")
	wantError(t, r, 400, "InvalidLineProtocol", "tag \"host\" appears twice")
	r = c.do("POST", v2, "cpu usage=1 99999999999999999\n", "Authorization", "Token "+c.token)
	if r.status != 204 {
		t.Fatalf("a time in range: %d %s", r.status, r.body)
	}
	fw.writes = nil
	r = c.do("POST", v2+"&precision=s", "cpu usage=1 99999999999999999\n")
	wantError(t, r, 400, "InvalidLineProtocol", "timestamp 99999999999999999")
	r = c.do("POST", v2+"&precision=d", "cpu usage=1\n")
	wantError(t, r, 400, "InvalidParameter", "precision")
	r = c.do("POST", "/api/v2/write?org=x", "cpu usage=1\n")
	wantError(t, r, 400, "MissingParameter", "bucket")
	r = c.do("POST", "/write", "cpu usage=1\n")
	wantError(t, r, 400, "MissingParameter", "db")
	if len(fw.taken()) != 0 {
		t.Fatalf("a failed request wrote %+v", fw.taken())
	}

	r = c.do("POST", v2, "cpu usage=1\n", "Authorization", "")
	wantError(t, r, 401, "Unauthenticated", "Token <token>")
	r = c.do("POST", v2, "cpu usage=1\n", "Authorization", "Token nope")
	wantError(t, r, 401, "Unauthenticated", "not valid")

	// Rejected points: the others are written and the answer is InfluxDB's partial write,
	// naming the first rejections; 1.x clients read "error".
	fw.answer = func(_, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
		switch table {
		case "missing":
			return tables.WriteResult{}, apierr.New(apierr.NotFound, "TableNotFound", "table %q does not exist", table)
		case "cpu":
			return tables.WriteResult{Memory: len(req.Records) - 1, Rejected: []tables.RejectedRecord{
				{Index: 1, Code: tables.CodeTooOld, Reason: "older than the memory retention"}}}, nil
		}
		return tables.WriteResult{Memory: len(req.Records)}, nil
	}
	r = c.do("POST", "/write?db=metrics", "cpu usage=1 1\nmissing x=1 2\ncpu usage=2 3\nmem used=1i 4\n")
	wantError(t, r, 400, "PartialWrite", "partial write: 2 of 4 points were not stored",
		`point 3 (table cpu): RecordTooOld: older than the memory retention`, `point 2 (table missing): TableNotFound: table "missing" does not exist`)
	var v1 struct{ Error string }
	if err := json.Unmarshal(r.body, &v1); err != nil || !strings.HasPrefix(v1.Error, "partial write: ") {
		t.Fatalf("1.x error body %s", r.body)
	}
	if w := fw.taken(); len(w) != 3 {
		t.Fatalf("writes: %+v", w)
	}
	// When no point could be written, the answer is the writer's error itself.
	r = c.do("POST", v2, "missing x=1 2\n")
	wantError(t, r, 404, "TableNotFound", `"missing"`)
	fw.answer = func(db, _ string, _ *tables.WriteRequest) (tables.WriteResult, error) {
		return tables.WriteResult{}, apierr.New(apierr.NotFound, "DatabaseNotFound", "database %q does not exist", db)
	}
	r = c.do("POST", v2, "cpu usage=1 1\nmem used=1i 4\n")
	wantError(t, r, 404, "DatabaseNotFound", `"metrics"`)
}

// TestLineProtocolBatches checks that points go in writes of at most 10,000 records per
// table, in the order of their first points.
func TestLineProtocolBatches(t *testing.T) {
	fw := &fakeWriter{}
	c := startWrites(t, fw)
	var b strings.Builder
	for i := range tables.MaxRecordsPerWrite + 1 {
		fmt.Fprintf(&b, "cpu,host=h%d usage=%d %d\n", i%7, i, i)
		if i == 5000 {
			b.WriteString("mem used=1i 1\n")
		}
	}
	r := c.do("POST", "/api/v2/write?bucket=metrics", b.String())
	if r.status != 204 {
		t.Fatalf("write: %d %s", r.status, r.body)
	}
	w := fw.taken()
	if len(w) != 3 || w[0].table != "cpu" || len(w[0].req.Records) != tables.MaxRecordsPerWrite || w[1].table != "mem" ||
		w[2].table != "cpu" || len(w[2].req.Records) != 1 || w[2].req.Records[0].Time != tables.MaxRecordsPerWrite {
		t.Fatalf("writes: %d", len(w))
	}
}
