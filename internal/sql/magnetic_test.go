package sql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Measures stored relative to their series' bases read back as the values written, from
// a file alone and compacted with a file that holds the same measure as a double.
func TestMagneticRelativeMeasuresReadBack(t *testing.T) {
	dir := t.TempDir()
	e, err := Open(Options{Threads: 2, AllowedDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	schema := TableSchema{Database: "fleet", Table: "trucks", Dimensions: []string{"name", "fleet"},
		Measures: []Measure{{"lat", "double"}, {"load", "bigint"}, {"status", "bigint"}}}
	m, err := e.OpenMemoryTable(ctx, schema, Magnetic{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// Random walks far apart, so that each series starts with a jump; a tenth of the
	// values missing, and one truck's row without its fleet.
	var series []Series
	for i := range 20 {
		series = append(series, Series{ID: uint32(i + 1), MeasureName: "readings", Dimensions: []string{fmt.Sprintf("truck_%02d", i), []string{"East", "West"}[i%2]}})
	}
	series = append(series, Series{ID: 21, MeasureName: "readings", Dimensions: []string{"truck_03", ""}})
	if err := m.AppendSeries(series); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	type key struct {
		sid uint32
		t   int64
	}
	want := map[key][]any{}
	var rows []Row
	seq := uint64(0)
	for i := range 20 {
		lat, load := float64(r.IntN(18_000_000)-9_000_000)/1e5, int64(r.IntN(1_000_000))
		for j := range 200 {
			lat += float64(r.IntN(1001)-500) / 1e5
			lat = float64(int64(lat*1e5)) / 1e5 // five decimals, as a device writes them
			load += int64(r.IntN(201) - 100)
			vals := []any{lat, load, int64(r.IntN(4))}
			if r.IntN(10) == 0 {
				vals[r.IntN(3)] = nil
			}
			sid := uint32(i + 1)
			if i == 3 && j == 100 {
				sid = 21
			}
			seq++
			tm := base + int64(j)*int64(10*time.Second)
			rows = append(rows, Row{Time: tm, Series: sid, Version: 1, Seq: seq, Values: vals})
			want[key{sid, tm}] = vals
		}
	}
	if err := m.Append(rows); err != nil {
		t.Fatal(err)
	}
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "000.parquet")
	st, err := m.Export(ctx, TimeRange{From: base, To: base + int64(time.Hour)}, seq, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"_eddy_rel_lat", "_eddy_base_lat", "_eddy_rel_load", "_eddy_base_load", "status"} {
		if !slices.Contains(st.Columns, c) {
			t.Errorf("exported columns %v lack %s", st.Columns, c)
		}
	}
	files := []File{{Path: p, Columns: st.Columns}}

	// A file written before measures were stored relative: lat as a double, with a
	// value no decimal holds, and a newer version of one row.
	old := filepath.Join(dir, "001.parquet")
	at := base + 50*int64(10*time.Second)
	if _, err := e.DB().Exec(fmt.Sprintf(`COPY (SELECT make_timestamp_ns(%d) AS time, 'readings' AS measure_name, 2::BIGINT AS _version,
		'truck_05' AS name, 'West' AS fleet, 0.1 + 0.2 AS lat, 7::BIGINT AS load) TO '%s' (FORMAT parquet)`, at, old)); err != nil {
		t.Fatal(err)
	}
	want[key{6, at}] = []any{0.1 + 0.2, int64(7), nil}
	files = append(files, File{Path: old, Columns: []string{"time", "measure_name", "_version", "name", "fleet", "lat", "load"}})
	compacted := filepath.Join(dir, "002.parquet")
	cst, err := m.Compact(ctx, files, true, compacted)
	if err != nil {
		t.Fatal(err)
	}

	names := map[string]uint32{}
	for _, s := range series {
		names[s.Dimensions[0]+"/"+s.Dimensions[1]] = s.ID
	}
	check := func(what string, files []File, want map[key][]any) {
		t.Helper()
		q, err := schema.filesRelation(files, true, false)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.DB().Query("SELECT epoch_ns(time), name, coalesce(fleet, ''), lat, load, status FROM (" + q + ")")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		n := 0
		for res.Next() {
			var tm int64
			var name, fleet string
			got := make([]any, 3)
			if err := res.Scan(&tm, &name, &fleet, &got[0], &got[1], &got[2]); err != nil {
				t.Fatal(err)
			}
			n++
			k := key{names[name+"/"+fleet], tm}
			if fmt.Sprint(got) != fmt.Sprint(want[k]) {
				t.Errorf("%s: %s/%s at %d reads %v, want %v", what, name, fleet, tm, got, want[k])
			}
		}
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Errorf("%s: %d rows, want %d", what, n, len(want))
		}
	}
	check("compacted", []File{{Path: compacted, Columns: cst.Columns}}, want)
	delete(want, key{6, at})
	want[key{6, at}] = rows[5*200+50].Values
	check("exported", []File{{Path: p, Columns: st.Columns}}, want)
}
