package server

import (
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	"github.com/eddy-streams/eddy/internal/tables"
)

// FuzzDecodeLineProtocol checks that the line protocol decoder never panics, fails only
// with API errors, and makes only records a table write takes: each with a measure, of
// a known type, in writes of at most MaxRecordsPerWrite records of one table.
func FuzzDecodeLineProtocol(f *testing.F) {
	f.Add([]byte("cpu,host=a,region=eu usage=58,cores=8i,big=9u,state=\"ok \\\"go\\\"\",up=true 1764000000000\n# comment\n\nmem used=1i\n"))
	f.Add([]byte("weather,location=us\\,midwest temperature=82 1465839830100400200\r\ncpu usage=-1.5e3,x=18446744073709551615u -5\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var d lineDecoder
		batches, err := d.decode(body, time.Millisecond, time.Unix(0, 0))
		if err != nil {
			if _, ok := apierr.As(err); !ok {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		points := 0
		for _, b := range batches {
			if b.table == "" || len(b.req.Records) == 0 || len(b.req.Records) > tables.MaxRecordsPerWrite || len(b.points) != len(b.req.Records) {
				t.Fatalf("batch %+v", b)
			}
			for _, r := range b.req.Records {
				if len(r.Measures) == 0 {
					t.Fatalf("a record without measures: %+v", r)
				}
				for _, m := range r.Measures {
					if m.Name == "" || !m.Value.Type.Valid() {
						t.Fatalf("measure %+v", m)
					}
				}
			}
			points += len(b.req.Records)
		}
		if points != d.points {
			t.Fatalf("%d records from %d points", points, d.points)
		}
	})
}
