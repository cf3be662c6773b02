package tablesbench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun runs the whole bench on a tiny data set and checks that the report has every
// figure, that each is sane, and that the tables held exactly what the loads wrote.
func TestRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Hosts = 10
	cfg.Span = map[UseCase]time.Duration{CPUOnly: 10 * time.Minute, IoT: 10 * time.Minute}
	cfg.Runs = 1
	cfg.Loaders = []int{2}
	cfg.Batch = 100
	cfg.QueryRuns = 2
	cfg.Dir = t.TempDir()
	var profile bytes.Buffer
	cfg.CPUProfile = &profile
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.UseCases) != 2 {
		t.Fatalf("got %d use cases, want 2", len(rep.UseCases))
	}
	for _, uc := range rep.UseCases {
		if len(uc.Ingest) != 3 {
			t.Fatalf("%s: got %d ingest cases, want baseline, eddy and HTTP", uc.UseCase, len(uc.Ingest))
		}
		for _, c := range uc.Ingest {
			r := c.Runs[0]
			if !r.Exhausted || r.Rows == 0 || r.Values < r.Rows || c.RowsPerSec.Median <= 0 || c.ValuesPerSec.Median <= 0 {
				t.Errorf("%s %s: run %+v, rows/s %v", uc.UseCase, c.Path, r, c.RowsPerSec)
			}
		}
		// 10 devices × 60 reports, one table (cpu-only) or two less the dropped (iot).
		ds := uc.Data
		if ds.StoredRows != ds.Rows || ds.StoredValues != ds.Values {
			t.Errorf("%s: tables hold %d rows, %d values; the loads wrote %d, %d", uc.UseCase, ds.StoredRows, ds.StoredValues, ds.Rows, ds.Values)
		}
		if uc.UseCase == CPUOnly && (ds.Rows != 600 || ds.Values != 6000) {
			t.Errorf("cpu-only: %d rows and %d values, want 600 and 6,000", ds.Rows, ds.Values)
		}
		if uc.UseCase == IoT && (ds.Rows < 900 || ds.Rows >= 1200) {
			t.Errorf("iot: %d rows, want about 90%% of 1,200", ds.Rows)
		}
		if uc.Tiering.MovedRows != ds.Rows || uc.Tiering.Files == 0 || uc.Tiering.BytesPerValue <= 0 {
			t.Errorf("%s: tiering %+v", uc.UseCase, uc.Tiering)
		}
		// Each last-point query twice, from the view kept for it and scanning the table;
		// double-groupby-all twice, scanning the table and from the rollup.
		want := 5
		if uc.UseCase == IoT {
			want = 6
		}
		if len(uc.Memory) != want || len(uc.Magnetic) != want {
			t.Fatalf("%s: %d memory and %d magnetic query results, want %d each", uc.UseCase, len(uc.Memory), len(uc.Magnetic), want)
		}
		for i, q := range uc.Memory {
			mq := uc.Magnetic[i]
			if q.Ms.Median <= 0 || mq.Ms.Median <= 0 || q.SQL == "" {
				t.Errorf("%s %s: memory %+v, magnetic %+v", uc.UseCase, q.Name, q, mq)
			}
			// The same parameters on both tiers give the same answers.
			if q.Rows != mq.Rows {
				t.Errorf("%s %s: %d rows on the memory tier, %d on the magnetic tier", uc.UseCase, q.Name, q.Rows, mq.Rows)
			}
		}
	}
	lastpoint := rep.UseCases[0].Memory[0]
	if lastpoint.Name != "lastpoint" || lastpoint.Rows != 10 {
		t.Errorf("lastpoint: %+v, want a row per host", lastpoint)
	}
	if len(rep.Targets) != 2+2+8 {
		t.Errorf("got %d targets, want ingest and bytes per value of each use case and four cpu-only queries on each tier", len(rep.Targets))
	}
	if profile.Len() == 0 {
		t.Error("no CPU profile written")
	}
	var out strings.Builder
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"DuckDB Appender (baseline)", "eddy Service.Write", "bytes per stored value", "tiering", "lastpoint", "double-groupby-all", "daily-activity", "Targets", "eddy HTTP JSON"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the table has no %q:\n%s", s, out.String())
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out.String())
	}
	if err := rep.WriteJSON(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}
