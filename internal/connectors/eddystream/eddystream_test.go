package eddystream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/internal/connectors/eddystream"
	"github.com/eddy-streams/eddy/internal/streams"
	"github.com/eddy-streams/eddy/internal/streams/streamstest"
)

type reading struct {
	Truck string `json:"truck"`
	Fuel  int    `json:"fuel"`
	Time  int64  `json:"time"`
}

func TestStreamToWindowToStreamWithDeadLetters(t *testing.T) {
	ctx := context.Background()
	svc := streamstest.Start(t, streams.Options{})
	if _, err := svc.Create(ctx, "readings", streams.Config{Shards: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, "per-minute", streams.Config{Shards: 1}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	var recs []streams.Record
	for i := 0; i < 1200; i++ {
		r := reading{Truck: fmt.Sprintf("truck-%d", i%4), Fuel: i % 100, Time: int64(i) * 1000}
		data, _ := json.Marshal(r)
		recs = append(recs, streams.Record{PartitionKey: r.Truck, Data: data})
		want[fmt.Sprintf("%s@%d", r.Truck, r.Time/60_000*60_000)]++
		if i%400 == 7 {
			recs = append(recs, streams.Record{PartitionKey: r.Truck, Data: []byte("{not json")})
		}
		if len(recs) >= 400 {
			if _, err := svc.Put(ctx, "readings", recs); err != nil {
				t.Fatal(err)
			}
			recs = nil
		}
	}
	if _, err := svc.Put(ctx, "readings", recs); err != nil {
		t.Fatal(err)
	}

	src, err := eddystream.NewSource(eddystream.SourceConfig[reading]{
		Service: svc, Stream: "readings", StopAtEnd: true, OutOfOrderness: 5 * time.Second,
		Decode: func(r *streams.StoredRecord) (reading, int64, error) {
			var v reading
			err := json.Unmarshal(r.Data, &v)
			return v, v.Time, err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	job := flow.NewJob("per-minute", flow.JobOptions{Parallelism: 2})
	in := flow.FromSource(job, "readings", 2, src)
	counts := flow.WindowAggregate(flow.KeyBy(in, func(r reading) string { return r.Truck }), "count", flow.Tumbling(time.Minute), flow.Count[reading]())
	flow.SinkTo(counts, "out", eddystream.NewSink(eddystream.SinkConfig[flow.WindowResult[string, int64]]{
		Service: svc, Stream: "per-minute",
		Encode: func(w flow.WindowResult[string, int64], _ int64) (streams.Record, error) {
			return streams.Record{PartitionKey: w.Key, Data: []byte(fmt.Sprintf("%s@%d=%d", w.Key, w.Window.Start, w.Value))}, nil
		},
	}))
	if err := flow.Run(ctx, job); err != nil {
		t.Fatal(err)
	}

	got := readAll(t, svc, "per-minute")
	if len(got) != len(want) {
		t.Fatalf("%d window results, want %d", len(got), len(want))
	}
	for _, line := range got {
		k, n, _ := strings.Cut(line, "=")
		if fmt.Sprint(want[k]) != n {
			t.Fatalf("%s: got %s want %d", k, n, want[k])
		}
	}
	dead := readAll(t, svc, "readings-dead-letter")
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead))
	}
	var dl eddystream.DeadLetter
	if err := json.Unmarshal([]byte(dead[0]), &dl); err != nil || dl.Stream != "readings" || string(dl.Data) != "{not json" || dl.Error == "" || dl.SequenceNumber == "" {
		t.Fatalf("dead letter %+v (%v)", dl, err)
	}
}

func readAll(t *testing.T, svc *streams.Service, stream string) []string {
	t.Helper()
	it, err := svc.NewIterator(context.Background(), stream, "", streams.Start{Kind: streams.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		recs, _, err := it.Next(context.Background(), 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			out = append(out, string(r.Data))
		}
	}
}
