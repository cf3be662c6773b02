package client_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/client"
	"github.com/eddy-streams/eddy/internal/server"
	"github.com/eddy-streams/eddy/internal/server/servertest"
	"github.com/eddy-streams/eddy/internal/tables"
)

// recordingWriter keeps the last write it was given and answers with result.
type recordingWriter struct {
	db, table string
	req       *tables.WriteRequest
	result    tables.WriteResult
}

func (w *recordingWriter) Write(_ context.Context, db, table string, req *tables.WriteRequest) (tables.WriteResult, error) {
	if table == "missing" {
		return tables.WriteResult{}, apierr.New(apierr.NotFound, tables.CodeTableNotFound, "table %q does not exist", table)
	}
	w.db, w.table, w.req = db, table, req
	return w.result, nil
}

func TestWriteRecords(t *testing.T) {
	w := &recordingWriter{result: tables.WriteResult{Memory: 2, Magnetic: 1, Unchanged: 1, Rejected: []tables.RejectedRecord{
		{Index: 3, Code: tables.CodeVersionConflict, Reason: "stored with version 7", ExistingVersion: 7}}}}
	hs, token := servertest.StartAPI(t, t.TempDir(), server.Options{TableWriter: w})
	c := client.New(hs.URL, token, nil)
	ctx := context.Background()

	// Every type, and what JSON cannot hold as a number, arrive as they were sent.
	req := &tables.WriteRequest{
		Common: tables.Record{Dimensions: []tables.Dimension{{Name: "region", Value: "eu-west"}}, TimeUnit: tables.Microseconds, MeasureName: "cpu", Version: 2},
		Records: []tables.Record{
			{Time: 1, Dimensions: []tables.Dimension{{Name: "host", Value: "a \"quoted\"\n"}}, Measures: []tables.Measure{
				{Name: "d", Value: tables.DoubleValue(0.1)}, {Name: "nan", Value: tables.DoubleValue(math.NaN())},
				{Name: "inf", Value: tables.DoubleValue(math.Inf(1))}, {Name: "big", Value: tables.BigIntValue(math.MinInt64)},
				{Name: "s", Value: tables.VarcharValue("é")}, {Name: "b", Value: tables.BooleanValue(true)},
				{Name: "t", Value: tables.Value{Type: tables.Timestamp, I: -1}}}},
			{Time: -5, TimeUnit: tables.Seconds, MeasureName: "temperature", Measures: []tables.Measure{{Name: "temperature", Value: tables.DoubleValue(21.5)}}},
			{Time: 3, Measures: []tables.Measure{{Value: tables.DoubleValue(1e300)}}, Version: 9},
			{Time: 4},
		},
	}
	res, err := c.WriteRecords(ctx, "metrics", "cpu", req)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res) != fmt.Sprint(w.result) {
		t.Fatalf("result %+v, want %+v", res, w.result)
	}
	if w.db != "metrics" || w.table != "cpu" || fmt.Sprint(*w.req) != fmt.Sprint(*req) {
		t.Fatalf("the server got %s.%s\n%+v\nwant\n%+v", w.db, w.table, *w.req, *req)
	}

	var e *apierr.Error
	if _, err := c.WriteRecords(ctx, "metrics", "missing", req); !errors.As(err, &e) || e.Code != tables.CodeTableNotFound || e.Kind != apierr.NotFound {
		t.Fatalf("write to a missing table: %#v", err)
	}
	if _, err := c.WriteRecordsJSON(ctx, "metrics", "cpu", []byte(`{"records":[{"time":1,"value":[]}]}`)); !errors.As(err, &e) ||
		e.Code != tables.CodeInvalidRecord || e.Message != "records[0].value: want a number, string, boolean or typed value, got an array (byte offset 30)" {
		t.Fatalf("a malformed write: %#v", err)
	}
}
