package tables_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/flow"
	"github.com/eddy-streams/eddy/flow/flowtest"
	sink "github.com/eddy-streams/eddy/internal/connectors/tables"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables"
)

type event struct {
	Key  string
	N    int
	Time int64
}

type sum struct {
	Key   string
	Total int
	Time  int64
}

// base is the event time of the first generated event: recent, so that the table's
// memory tier takes every record.
var base = time.Now().Add(-time.Hour).UnixMilli()

// job sums a deterministic generator per key and writes every running sum to the table
// through the sink, as a record whose identity is the key and the event's time.
func job(svc *tables.Service, jobOpts flow.JobOptions, events int, slow bool) *flow.Job {
	j := flow.NewJob("tables-sink", jobOpts)
	src := flow.FromGenerator(j, "gen", 2, func(sub, _ int) func(*event) bool {
		i := 0
		return func(e *event) bool {
			if i == events {
				return false
			}
			if slow && i%100 == 0 {
				time.Sleep(time.Millisecond)
			}
			*e = event{Key: fmt.Sprintf("s%d-k%d", sub, i%7), N: i, Time: base + int64(i)}
			i++
			return true
		}
	}, flow.SourceOptions[event]{Timestamp: func(e event) int64 { return e.Time }, Watermarks: flow.BoundedOutOfOrderness(5 * time.Millisecond)})
	keyed := flow.KeyBy(src, func(e event) string { return e.Key })
	sums := flow.Process(keyed, "running-sum", func(rt *flow.Runtime[string]) flow.KeyedProcessor[string, event, sum] {
		total := flow.NewValueState[int](rt, "sum")
		return flow.KeyedProcessor[string, event, sum]{Element: func(ctx *flow.ProcessContext[string, sum], e event) {
			s, _ := total.Value()
			s += e.N
			total.Update(s)
			ctx.Emit(sum{e.Key, s, e.Time})
		}}
	})
	flow.SinkTo(sums, "table", sink.NewSink(sink.SinkConfig[sum]{
		Writer: svc, Database: "jobs", Table: "sums", BatchSize: 300,
		Record: func(v sum, _ int64) tables.Record {
			return tables.Record{Time: v.Time, Dimensions: []tables.Dimension{{Name: "key", Value: v.Key}},
				MeasureName: "sum", Measures: []tables.Measure{{Value: tables.BigIntValue(int64(v.Total))}}}
		},
	}))
	return j
}

func openService(t *testing.T) (*tables.Service, *eddysql.Engine) {
	t.Helper()
	dir := t.TempDir()
	eng, err := eddysql.Open(eddysql.Options{AllowedDirs: []string{dir}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := tables.Open(tables.NewMemStore(), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := tables.NewService(context.Background(), cat, eng, tables.Options{DataDir: filepath.Join(dir, "tables")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); eng.Close() })
	if _, err := svc.CreateDatabase("jobs"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTable("jobs", "sums", tables.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	return svc, eng
}

func rows(t *testing.T, svc *tables.Service, eng *eddysql.Engine) []string {
	t.Helper()
	if err := svc.Sync("jobs", "sums"); err != nil {
		t.Fatal(err)
	}
	r, err := eng.DB().Query(`SELECT key, epoch_ms(time), sum FROM jobs.sums`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var k string
		var ts, s int64
		if err := r.Scan(&k, &ts, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(k, " ", ts, " ", s))
	}
	slices.Sort(out)
	return out
}

func TestSinkIsExactlyOnceAcrossCrashAndRescale(t *testing.T) {
	const events = 3000
	refSvc, refEng := openService(t)
	if err := flow.Run(context.Background(), job(refSvc, flow.JobOptions{Parallelism: 2}, events, false)); err != nil {
		t.Fatal(err)
	}
	want := rows(t, refSvc, refEng)
	if len(want) != 2*events {
		t.Fatalf("reference run wrote %d rows, want %d", len(want), 2*events)
	}
	for _, restart := range []int{2, 3} {
		t.Run(fmt.Sprintf("restart-at-parallelism-%d", restart), func(t *testing.T) {
			svc, eng := openService(t)
			cps := flow.NewMemStore()
			jobOpts := flow.JobOptions{Parallelism: 2, Checkpoints: &flow.CheckpointOptions{Store: cps, Interval: 5 * time.Millisecond}}
			flowtest.CrashAfterCheckpoints(t, job(svc, jobOpts, events, true), 3)
			if got := len(rows(t, svc, eng)); got >= len(want) {
				t.Fatalf("the crash came too late to prove anything (%d of %d rows)", got, len(want))
			}
			jobOpts.Parallelism = restart
			if err := flow.Run(context.Background(), job(svc, jobOpts, events, false)); err != nil {
				t.Fatal(err)
			}
			if got := rows(t, svc, eng); !slices.Equal(got, want) {
				t.Fatalf("after crash and restore: %d rows, want %d", len(got), len(want))
			}
		})
	}
}
