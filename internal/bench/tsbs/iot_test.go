package tsbs

import (
	"math"
	"reflect"
	"slices"
	"testing"

	"github.com/eddy-streams/eddy/internal/tables"
)

// byTable is the records of each table, in order.
func byTable(bs []batch) map[string][]tables.Record {
	out := map[string][]tables.Record{}
	for _, b := range bs {
		out[b.table] = append(out[b.table], b.records...)
	}
	return out
}

func TestIoTIsDeterministic(t *testing.T) {
	cfg := testConfig(30, 200)
	a := drain(t, mustIoT(t, cfg, 1, 2), 64)
	if b := drain(t, mustIoT(t, cfg, 1, 2), 64); !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of one config and split differ")
	}
	// The batch size decides how the two tables' batches alternate, not what each
	// table gets.
	if b := drain(t, mustIoT(t, cfg, 1, 2), 1000); !reflect.DeepEqual(byTable(a), byTable(b)) {
		t.Fatal("batches of 64 and of 1000 give the tables different rows")
	}
	cfg.Table = "fleet"
	one := drain(t, mustIoT(t, cfg, 1, 2), 64)
	if b := drain(t, mustIoT(t, cfg, 1, 2), 1000); !reflect.DeepEqual(records(one), records(b)) {
		t.Fatal("one table gets different rows in batches of 64 and of 1000")
	}
	for table, recs := range byTable(a) {
		var same []tables.Record
		for _, r := range records(one) {
			if r.MeasureName == table {
				same = append(same, r)
			}
		}
		if !reflect.DeepEqual(recs, same) {
			t.Errorf("table %s gets other rows, or in another order, than the one table's %s rows", table, table)
		}
	}
	cfg.Seed = 7
	if c := records(drain(t, mustIoT(t, cfg, 1, 2), 64)); reflect.DeepEqual(records(one)[:100], c[:100]) {
		t.Error("seed 7 starts with the rows of seed 0")
	}
}

// iotRun is a run long enough for the injection's rates to settle: 200,000 entries.
func iotRun(t *testing.T) (*Generator, []batch) {
	t.Helper()
	g := mustIoT(t, testConfig(100, 1000), 0, 1)
	return g, drain(t, g, 1000)
}

func TestIoTRows(t *testing.T) {
	g, bs := iotRun(t)
	var st Stats
	seen := map[string]bool{}
	var sums [len(readingsFields) + len(diagnosticsFields)]float64
	var counts [len(sums)]float64
	lost := map[string]float64{} // diagnostics rows missing each field
	for _, r := range records(bs) {
		k := key(r, "name")
		if dim(r, "name") != "" && seen[k] {
			t.Fatalf("%s emitted twice", k)
		}
		seen[k] = true
		if r.TimeUnit != tables.Milliseconds || r.Version != 0 {
			t.Fatalf("record %+v: want milliseconds, version 0", r)
		}
		checkNameOrder(t, r)
		st.Rows++
		st.Values += int64(len(r.Measures))
		fields, off := readingsFields[:], 0
		if r.MeasureName == "diagnostics" {
			fields, off = diagnosticsFields[:], len(readingsFields)
		} else if r.MeasureName != "readings" {
			t.Fatalf("measure name %q", r.MeasureName)
		}
		switch len(r.Measures) {
		case len(fields):
		case len(fields) - 1:
			st.MissingValues++
			if r.MeasureName == "diagnostics" {
				for _, f := range fields {
					if !slices.ContainsFunc(r.Measures, func(m tables.Measure) bool { return m.Name == f }) {
						lost[f]++
					}
				}
			}
		default:
			t.Fatalf("%s row with %d measures", r.MeasureName, len(r.Measures))
		}
		switch len(r.Dimensions) {
		case len(truckTags):
		case len(truckTags) - 1:
			st.MissingDimensions++
		default:
			t.Fatalf("row with %d dimensions", len(r.Dimensions))
		}
		for _, m := range r.Measures {
			i := slices.Index(fields, m.Name)
			if i < 0 {
				t.Fatalf("%s row has measure %s", r.MeasureName, m.Name)
			}
			checkIoTValue(t, m)
			v := m.Value.F
			if m.Value.Type == tables.BigInt {
				v = float64(m.Value.I)
			}
			sums[off+i] += v
			counts[off+i]++
		}
	}
	got := g.Stats()
	if got.Rows != st.Rows || got.Values != st.Values || got.MissingValues != st.MissingValues || got.MissingDimensions != st.MissingDimensions {
		t.Errorf("Stats() = %+v, the records have %+v", got, st)
	}
	if got.Rows+got.Dropped != g.Rows() {
		t.Errorf("%d rows emitted and %d dropped, want the %d simulated", got.Rows, got.Dropped, g.Rows())
	}
	// TSBS draws the lost field among 7 and takes it modulo 3: fuel_state goes in 3 of
	// 7 diagnostics rows that lose one.
	if f := lost["fuel_state"] / (lost["fuel_state"] + lost["current_load"] + lost["status"]); math.Abs(f-3.0/7) > 0.03 {
		t.Errorf("fuel_state is the field lost in %.3f of diagnostics rows losing one, want 3/7", f)
	}
	// Means the distributions settle at: uniform starts in [0, 90) and [0, 180) that
	// barely move, loads uniform below 5000 (after the 0 they start at), fuel between
	// 1 and 0.
	for i, want := range map[int]struct{ lo, hi float64 }{
		0: {35, 55},     // latitude
		1: {70, 110},    // longitude
		3: {20, 80},     // velocity
		7: {0.3, 0.7},   // fuel_state
		8: {1500, 2600}, // current_load
	} {
		if mean := sums[i] / counts[i]; mean < want.lo || mean > want.hi {
			t.Errorf("measure %d: mean %.2f, want within [%v, %v]", i, mean, want.lo, want.hi)
		}
	}
}

// checkIoTValue checks m's type and range against TSBS's iot model.
func checkIoTValue(t *testing.T, m tables.Measure) {
	t.Helper()
	type want struct {
		typ    tables.ColumnType
		lo, hi float64
		scale  float64 // the value times scale is whole
	}
	w := map[string]want{
		"latitude":         {tables.Double, -90, 90, 1e5},
		"longitude":        {tables.Double, -180, 180, 1e5},
		"elevation":        {tables.Double, 0, 5000, 1},
		"velocity":         {tables.Double, 0, 100, 1},
		"heading":          {tables.Double, 0, 360, 1},
		"grade":            {tables.Double, 0, 100, 1},
		"fuel_consumption": {tables.Double, 0, 50, 10},
		"fuel_state":       {tables.Double, 0, 1, 10},
		"current_load":     {tables.Double, 0, 5000, 1},
		"status":           {tables.BigInt, 0, 5, 1},
	}[m.Name]
	if m.Value.Type != w.typ {
		t.Fatalf("%s is a %s, want a %s", m.Name, m.Value.Type, w.typ)
	}
	v := m.Value.F
	if w.typ == tables.BigInt {
		v = float64(m.Value.I)
	}
	if v < w.lo || v > w.hi {
		t.Fatalf("%s = %v, want within [%v, %v]", m.Name, v, w.lo, w.hi)
	}
	// Truncating x·scale and dividing leaves a number within rounding of a multiple.
	if f := v * w.scale; math.Abs(f-math.Round(f)) > 1e-6*math.Max(1, math.Abs(f)) {
		t.Fatalf("%s = %v has more decimals than TSBS writes", m.Name, v)
	}
}

func TestIoTInjectionRates(t *testing.T) {
	g, _ := iotRun(t)
	st := g.Stats()
	emitted, simulated := float64(st.Rows), float64(g.Rows())
	// The expected rates of TSBS's algorithm in its steady state. A built batch visits
	// 13.7 positions: 1 entry is dropped, 2.7 are set aside and as many come back (in
	// the 10 planned positions), so it takes 11 new entries; 1.06 plans per 100 built
	// batches drop 10 more. Of the 2.7 entries back, 0.63 stay (the others are dropped
	// or set aside again): 17% of a batch is delayed. A set-aside batch (5%) is
	// delayed only if a new batch is emitted before it comes back, 0.470 against 0.495
	// per plan.
	for _, c := range []struct {
		name      string
		got, want float64
		tolerance float64
	}{
		{"dropped", float64(st.Dropped) / simulated, 1.106 / 11.106, 0.01},
		{"missing a field", float64(st.MissingValues) / emitted, 0.09, 0.01},
		{"missing a tag", float64(st.MissingDimensions) / emitted, 0.009, 0.002},
		{"delayed", float64(st.Delayed) / emitted, 0.05*(0.487+0.513*0.17) + 0.95*0.17, 0.02},
	} {
		t.Logf("%s: %.4f of rows (TSBS's algorithm: %.4f)", c.name, c.got, c.want)
		if math.Abs(c.got-c.want) > c.tolerance {
			t.Errorf("%s: %.4f of rows, want %.4f ± %.3f", c.name, c.got, c.want, c.tolerance)
		}
	}
	// With 100 trucks, a truck's rows are 200 entries apart: delays never reorder them.
	if st.OutOfOrder != 0 {
		t.Errorf("%d rows out of order within their series, want none with 100 trucks", st.OutOfOrder)
	}
}

func TestIoTSmallFleetIsOutOfOrder(t *testing.T) {
	g := mustIoT(t, testConfig(2, 5000), 0, 1)
	last := map[string]int64{}
	var outOfOrder int64
	for _, r := range records(drain(t, g, 100)) {
		if dim(r, "name") == "" {
			continue
		}
		s := dim(r, "name") + "/" + r.MeasureName
		if prev, ok := last[s]; ok && r.Time < prev {
			outOfOrder++
		} else {
			last[s] = r.Time
		}
	}
	st := g.Stats()
	// Four series share the stream: a delay of more than three entries puts a row
	// behind its series' next one. Stats also counts the rows without a name, and
	// sees the series' newest time in them.
	if outOfOrder == 0 || st.OutOfOrder < outOfOrder || st.OutOfOrder > 2*outOfOrder {
		t.Errorf("%d rows out of order in their series (Stats: %d), want some", outOfOrder, st.OutOfOrder)
	}
}

func TestIoTTables(t *testing.T) {
	cfg := testConfig(50, 100)
	bs := drain(t, mustIoT(t, cfg, 0, 1), 64)
	partial := 0
	for _, b := range bs {
		for _, r := range b.records {
			if r.MeasureName != b.table {
				t.Fatalf("a batch for table %s holds a %s row", b.table, r.MeasureName)
			}
		}
		if len(b.records) < 64 {
			partial++
		}
	}
	if partial > 2 {
		t.Errorf("%d of %d batches hold fewer than 64 records, want only each table's last", partial, len(bs))
	}
	cfg.Table = "fleet"
	bs = drain(t, mustIoT(t, cfg, 0, 1), 64)
	names := map[string]bool{}
	for i, b := range bs {
		if b.table != "fleet" {
			t.Fatalf("a batch for table %s, want fleet", b.table)
		}
		if len(b.records) != 64 && i != len(bs)-1 {
			t.Fatalf("batch %d of %d holds %d records, want 64: one table needs no cut", i, len(bs), len(b.records))
		}
		for _, r := range b.records {
			names[r.MeasureName] = true
		}
	}
	if len(names) != 2 {
		t.Errorf("one table holds measure names %v, want readings and diagnostics", names)
	}
}

func TestIoTSplitsShareTheTrucks(t *testing.T) {
	cfg := testConfig(23, 100)
	single := map[string]tables.Dimension{}
	for _, r := range records(drain(t, mustIoT(t, cfg, 0, 1), 100)) {
		if len(r.Dimensions) == len(truckTags) {
			single[dim(r, "name")] = r.Dimensions[2] // the fleet
		}
	}
	trucks := map[string]int{}
	for i := range 3 {
		for _, r := range records(drain(t, mustIoT(t, cfg, i, 3), 100)) {
			name := dim(r, "name")
			if name == "" {
				continue
			}
			if s, ok := trucks[name]; ok && s != i {
				t.Fatalf("%s is in splits %d and %d", name, s, i)
			}
			trucks[name] = i
			if len(r.Dimensions) == len(truckTags) && r.Dimensions[2] != single[name] {
				t.Fatalf("%s is in fleet %s in split %d, %s unsplit", name, r.Dimensions[2].Value, i, single[name].Value)
			}
		}
	}
	if len(trucks) != 23 {
		t.Errorf("3 splits have %d trucks, want 23", len(trucks))
	}
}
