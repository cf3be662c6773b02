package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// fakeWriter records the writes it is given and answers them with answer, if set, or
// with every record stored in the memory tier.
type fakeWriter struct {
	mu     sync.Mutex
	writes []fakeWrite
	answer func(db, table string, req *tables.WriteRequest) (tables.WriteResult, error)
}

type fakeWrite struct {
	db, table string
	req       *tables.WriteRequest
}

func (f *fakeWriter) Write(_ context.Context, db, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
	f.mu.Lock()
	f.writes = append(f.writes, fakeWrite{db, table, req})
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(db, table, req)
	}
	return tables.WriteResult{Memory: len(req.Records)}, nil
}

func (f *fakeWriter) taken() []fakeWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeWrite(nil), f.writes...)
}

// startWrites starts a server whose table writes go to fw.
func startWrites(t *testing.T, fw *fakeWriter) *caller {
	t.Helper()
	hs, token := servertest.StartAPI(t, t.TempDir(), server.Options{TableWriter: fw})
	return &caller{t: t, url: hs.URL, token: token}
}

const writeBody = `{"common": {"dimensions": {"region": "eu-west"}, "timeUnit": "MILLISECONDS", "measureName": "cpu", "version": 1},
 "records": [
   {"time": 1764000000000, "dimensions": {"host": "a"}, "measures": {"usage_user": 58, "usage_system": 2.5}, "version": 2},
   {"time": "2026-11-25T10:00:00Z", "dimensions": {"host": "b"}, "measureName": "temperature", "value": 21.5},
   {"time": 1764000000000, "dimensions": {"host": "c"}, "measureName": "status", "value": {"type": "varchar", "value": "ok"}}
 ]}`

func TestWriteRecords(t *testing.T) {
	fw := &fakeWriter{answer: func(_, _ string, req *tables.WriteRequest) (tables.WriteResult, error) {
		return tables.WriteResult{Memory: 1, Magnetic: 1, Rejected: []tables.RejectedRecord{
			{Index: 2, Code: tables.CodeVersionConflict, Reason: "the stored record has version 3", ExistingVersion: 3}}}, nil
	}}
	c := startWrites(t, fw)
	r := c.do("POST", "/v1/databases/metrics/tables/cpu/records", writeBody)
	want := `{"recordsIngested":{"total":2,"memoryStore":1,"magneticStore":1},"unchanged":0,"rejectedRecords":[` +
		`{"index":2,"code":"VersionConflict","reason":"the stored record has version 3","existingVersion":3}]}` + "\n"
	if r.status != 200 || string(r.body) != want {
		t.Fatalf("write answered %d\n%s\nwant\n%s", r.status, r.body, want)
	}
	w := fw.taken()
	if len(w) != 1 || w[0].db != "metrics" || w[0].table != "cpu" || len(w[0].req.Records) != 3 {
		t.Fatalf("writer got %+v", w)
	}
	req := w[0].req
	if req.Common.MeasureName != "cpu" || req.Common.Version != 1 || req.Common.Dimensions[0] != (tables.Dimension{Name: "region", Value: "eu-west"}) {
		t.Fatalf("common attributes: %+v", req.Common)
	}
	if m := req.Records[0].Measures; len(m) != 2 || m[0].Name != "usage_user" || m[0].Value != tables.DoubleValue(58) {
		t.Fatalf("records[0] measures: %+v", m)
	}
	if m := req.Records[2].Measures; len(m) != 1 || m[0].Name != "status" || m[0].Value != tables.VarcharValue("ok") {
		t.Fatalf("records[2] measures: %+v", m)
	}

	// Every record stored: rejectedRecords is an empty list, not null.
	fw.answer = nil
	var out wire.WriteRecordsResponse
	c.json("POST", "/v1/databases/metrics/tables/cpu/records", `{"records":[{"time":1,"value":1}]}`, 200, &out)
	if out.RecordsIngested.Total != 1 || out.RejectedRecords == nil {
		t.Fatalf("answer %+v", out)
	}

	// A gzipped body.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(writeBody))
	_ = zw.Close()
	r = c.do("POST", "/v1/databases/metrics/tables/cpu/records", gz.String(), "Content-Encoding", "gzip")
	if r.status != 200 || len(fw.taken()) != 3 || len(fw.taken()[2].req.Records) != 3 {
		t.Fatalf("gzipped write: %d %s", r.status, r.body)
	}
}

func TestWriteRecordsErrors(t *testing.T) {
	fw := &fakeWriter{}
	c := startWrites(t, fw)
	path := "/v1/databases/metrics/tables/cpu/records"

	r := c.do("POST", path, `{"records":[{"time":1},{"time":2,"measures":{"usage_user":[1]}}]}`)
	wantError(t, r, 400, "InvalidRecord", "records[1].measures.usage_user: want a number, string, boolean or typed value, got an array")
	r = c.do("POST", path, `{"records":[{"time":1}`)
	wantError(t, r, 400, "MalformedJSON", "ends early")
	r = c.do("POST", path, `{"records":[`+strings.Repeat(`{"time":1},`, tables.MaxRecordsPerWrite)+`{"time":1}]}`)
	wantError(t, r, 400, "TooManyRecords", "10000")
	r = c.do("POST", path, "x", "Content-Encoding", "br")
	wantError(t, r, 400, "UnsupportedContentEncoding", `"br"`)
	r = c.do("POST", path, "not gzip", "Content-Encoding", "gzip")
	wantError(t, r, 400, "MalformedBody", "gzip")
	if len(fw.taken()) != 0 {
		t.Fatalf("a malformed write reached the writer: %+v", fw.taken())
	}

	r = c.do("POST", path, `{"records":[]}`, "Authorization", "")
	wantError(t, r, 401, "Unauthenticated")

	fw.answer = func(db, _ string, _ *tables.WriteRequest) (tables.WriteResult, error) {
		return tables.WriteResult{}, apierr.New(apierr.NotFound, "DatabaseNotFound", "database %q does not exist", db)
	}
	r = c.do("POST", path, `{"records":[]}`)
	wantError(t, r, 404, "DatabaseNotFound", `"metrics"`)

	// A body past the limit, streamed without a length, is cut off at 64 MiB.
	req, _ := http.NewRequest("POST", c.url+path, io.MultiReader(strings.NewReader(`{"records":[`), &spaces{n: 64<<20 + 1}))
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e wire.Error
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 413 || e.Code != "RequestTooLarge" || !strings.Contains(e.Message, "64 MiB") {
		t.Fatalf("a 64 MiB body: %d %+v", resp.StatusCode, e)
	}
}

// spaces reads as n spaces.
type spaces struct{ n int }

func (s *spaces) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), s.n)
	for i := range n {
		p[i] = ' '
	}
	s.n -= n
	return n, nil
}
