package sql

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func reviewMemTable(t *testing.T) (*Engine, *MemoryTable, string) {
	t.Helper()
	dir := t.TempDir()
	e, err := Open(Options{Threads: 2, AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	schema := TableSchema{Database: "fleet", Table: "mmm", Dimensions: []string{"host"}, Measures: []Measure{{"m", "double"}}}
	m, err := e.OpenMemoryTable(context.Background(), schema, Magnetic{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return e, m, dir
}

// lateDays computes a day with DuckDB's integer division, which truncates toward zero:
// for times before 1970 (accepted with a magnetic retention of up to 200 years) the day
// is the next one, not the row's, so the view does not resolve the late row against the
// files of its own day.
func TestReviewLateDaysBefore1970(t *testing.T) {
	_, m, _ := reviewMemTable(t)
	at := time.Date(1960, 6, 15, 12, 0, 0, 0, time.UTC)
	if err := m.AppendSeries([]Series{{ID: 1, MeasureName: "m", Dimensions: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Append([]Row{{Time: at.UnixNano(), Series: 1, Version: 1, Seq: 5, Values: []any{1.0}}}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	cut := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	if err := m.Moved(context.Background(), nil, 0, cut, func(days []int64) Magnetic {
		got = days
		return Magnetic{Late: len(days) > 0, LateCut: cut}
	}); err != nil {
		t.Fatal(err)
	}
	want := time.Date(1960, 6, 15, 0, 0, 0, 0, time.UTC).UnixNano()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("late days %v (%s), want [%d] (1960-06-15)", got, fmtDays(got), want)
	}
}

func fmtDays(ds []int64) string {
	s := ""
	for _, d := range ds {
		s += time.Unix(0, d).UTC().Format(time.DateTime) + " "
	}
	return s
}

// Files of one partition whose double column was stored with different decimal scales
// (or as DOUBLE) compact and read back as the same doubles.
func TestReviewCompactMixedDecimalScales(t *testing.T) {
	e, m, dir := reviewMemTable(t)
	ctx := context.Background()
	vals := [][]float64{{123456789012.5, 1.5e17}, {0.000001, 2.25}, {0.1 + 0.2, 1e300}}
	if err := m.AppendSeries([]Series{{ID: 1, MeasureName: "m", Dimensions: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	var files []File
	seq := uint64(0)
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	for i, vs := range vals {
		var rows []Row
		from := base + int64(i)*int64(time.Hour)
		for j, v := range vs {
			seq++
			rows = append(rows, Row{Time: from + int64(j)*int64(time.Minute), Series: 1, Version: 1, Seq: seq, Values: []any{v}})
		}
		if err := m.Append(rows); err != nil {
			t.Fatal(err)
		}
		if err := m.Flush(); err != nil { // Export reads visible rows only
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("%03d.parquet", i))
		st, err := m.Export(ctx, TimeRange{From: from, To: from + int64(time.Hour)}, seq, p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Path: p, Columns: st.Columns})
	}
	out := filepath.Join(dir, "compact.parquet")
	if _, err := m.Compact(ctx, files, true, out); err != nil {
		t.Fatal(err)
	}
	rows, err := e.DB().Query("SELECT CAST(m AS DOUBLE) FROM read_parquet(?) ORDER BY time", out)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []float64
	for rows.Next() {
		var f float64
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	want := []float64{123456789012.5, 1.5e17, 0.000001, 2.25, 0.1 + 0.2, 1e300}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("compacted %v, want %v", got, want)
	}
}
