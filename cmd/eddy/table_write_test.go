package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/server/wire"
	"github.com/eddy-streams/eddy/internal/tables"
)

// rejectingWriter stores every record except those whose measure "bad" is true, and
// keeps the size of each write.
type rejectingWriter struct {
	mu     sync.Mutex
	writes []int
}

func (w *rejectingWriter) Write(_ context.Context, _, _ string, req *tables.WriteRequest) (tables.WriteResult, error) {
	w.mu.Lock()
	w.writes = append(w.writes, len(req.Records))
	w.mu.Unlock()
	var res tables.WriteResult
	for i, r := range req.Records {
		if len(r.Measures) > 0 && r.Measures[0].Name == "bad" {
			res.Rejected = append(res.Rejected, tables.RejectedRecord{Index: i, Code: tables.CodeTooOld, Reason: "too old"})
			continue
		}
		res.Memory++
	}
	return res, nil
}

func TestTableWrite(t *testing.T) {
	dir := t.TempDir()
	w := &rejectingWriter{}
	hs, _ := servertest.StartAPI(t, dir, server.Options{TableWriter: w})
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		cmd := newTableCmd()
		cmd.SetArgs(append(append([]string{"write"}, args...), "--server", hs.URL, "--data-dir", dir))
		var out bytes.Buffer
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		return out.String(), err
	}

	// NDJSON on standard input; line 4 is rejected.
	ndjson := `{"time":1,"dimensions":{"host":"a"},"measureName":"cpu","value":58}

{"time":2,"measures":{"usage":1.5}}
{"time":3,"measures":{"bad":true}}
`
	out, err := run(ndjson, "metrics", "cpu")
	if err == nil || err.Error() != "1 of 3 records were rejected" {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(out, "wrote 3 records to metrics.cpu: 2 stored (memory 2, magnetic 0), 0 unchanged, 1 rejected") ||
		!slicesEqual(row(t, out, "2"), []string{"2", "4", "RecordTooOld", "too", "old"}) {
		t.Fatalf("printed\n%s", out)
	}

	// A write body from a file, with --output json.
	body := `{"common": {"measureName": "cpu"},
  "records": [{"time": 1, "value": 1}, {"time": 2, "measures": {"bad": true}}]}`
	file := filepath.Join(t.TempDir(), "w.json")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run("", "metrics", "cpu", "--file", file, "--output", "json")
	var res wire.WriteRecordsResponse
	if err == nil || json.Unmarshal([]byte(out), &res) != nil || res.RecordsIngested.Total != 1 || len(res.RejectedRecords) != 1 || res.RejectedRecords[0].Index != 1 {
		t.Fatalf("printed %s (%v)", out, err)
	}

	// 10,001 lines go in two writes; a rejection in the second keeps its place in the input.
	w.writes = nil
	var b strings.Builder
	for i := range tables.MaxRecordsPerWrite {
		fmt.Fprintf(&b, `{"time":%d,"value":1}`+"\n", i)
	}
	b.WriteString(`{"time":1,"measures":{"bad":true}}`)
	out, err = run(b.String(), "metrics", "cpu")
	if err == nil || len(w.writes) != 2 || w.writes[0] != tables.MaxRecordsPerWrite || w.writes[1] != 1 ||
		!slicesEqual(row(t, out, "10000")[:3], []string{"10000", "10001", "RecordTooOld"}) {
		t.Fatalf("writes %v, printed\n%s", w.writes, out)
	}

	// A malformed record is reported by its line, with what earlier writes stored.
	b.Reset()
	for i := range tables.MaxRecordsPerWrite + 2 {
		fmt.Fprintf(&b, `{"time":%d,"value":1}`+"\n", i)
	}
	b.WriteString(`{"time":1,"measures":{"usage":[1]}}` + "\n")
	_, err = run(b.String(), "metrics", "cpu")
	if err == nil || !strings.Contains(err.Error(), "line 10003: measures.usage: want a number, string, boolean or typed value, got an array (the 10000 records before it were sent: 10000 stored") {
		t.Fatalf("err %v", err)
	}
	if _, err = run("{\"time\":1,\"value\":1}\nnot json\n", "metrics", "cpu"); err == nil || err.Error() != "line 2 is not a JSON object: each line of NDJSON is one record" {
		t.Fatalf("err %v", err)
	}
	if _, err = run("\n\n", "metrics", "cpu"); err == nil || !strings.Contains(err.Error(), "no records") {
		t.Fatalf("err %v", err)
	}
}
