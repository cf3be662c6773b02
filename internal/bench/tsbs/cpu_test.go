package tsbs

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/tables"
)

func TestCPUOnlyIsDeterministic(t *testing.T) {
	cfg := testConfig(50, 100)
	a := records(drain(t, mustCPUOnly(t, cfg, 0, 1), 64))
	b := records(drain(t, mustCPUOnly(t, cfg, 0, 1), 1000))
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs of one config (in batches of 64 and 1000) differ")
	}
	cfg.Seed = 7
	c := records(drain(t, mustCPUOnly(t, cfg, 0, 1), 64))
	same := 0
	for i := range a {
		if reflect.DeepEqual(a[i].Measures, c[i].Measures) {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seed 7 repeats the values of %d of %d rows of seed 0", same, len(a))
	}
}

func TestCPUOnlyCounts(t *testing.T) {
	cfg := testConfig(37, 250)
	g := mustCPUOnly(t, cfg, 0, 1)
	bs := drain(t, g, 100)
	recs := records(bs)
	if want := int64(37 * 250); int64(len(recs)) != want || g.Rows() != want {
		t.Fatalf("%d records, Rows() %d, want %d", len(recs), g.Rows(), want)
	}
	if st := g.Stats(); st != (Stats{Rows: 37 * 250, Values: 37 * 250 * 10}) {
		t.Errorf("Stats() = %+v, want 9250 rows of 10 values", st)
	}
	start, step := cfg.Start.UnixMilli(), cfg.Interval.Milliseconds()
	for i, r := range recs {
		// Time by time, each time's hosts in order, as TSBS emits them.
		if want := start + int64(i/37)*step; r.Time != want {
			t.Fatalf("record %d at %d, want %d", i, r.Time, want)
		}
		if want := "host_" + strconv.Itoa(i%37); dim(r, "hostname") != want {
			t.Fatalf("record %d is of %s, want %s", i, dim(r, "hostname"), want)
		}
	}
	for _, b := range bs {
		if b.table != "cpu" {
			t.Fatalf("a batch is for table %q, want cpu", b.table)
		}
	}
}

func TestCPUOnlyRows(t *testing.T) {
	cfg := testConfig(200, 200)
	recs := records(drain(t, mustCPUOnly(t, cfg, 0, 1), 500))
	tags := map[string][]tables.Dimension{}
	var sum, steps, bigSteps float64
	last := map[string][]tables.Measure{}
	for _, r := range recs {
		if r.MeasureName != "cpu" || r.TimeUnit != tables.Milliseconds || r.Version != 0 {
			t.Fatalf("record %+v: want measure name cpu, milliseconds, version 0", r)
		}
		if len(r.Measures) != len(cpuFields) {
			t.Fatalf("record has %d measures, want 10", len(r.Measures))
		}
		checkNameOrder(t, r)
		for i, m := range r.Measures {
			if m.Name != cpuFields[i] || m.Value.Type != tables.BigInt || m.Value.I < 0 || m.Value.I > 100 {
				t.Fatalf("measure %d is %s=%v, want %s, a bigint in [0, 100]", i, m.Name, m.Value, cpuFields[i])
			}
			sum += float64(m.Value.I)
		}
		host := dim(r, "hostname")
		if prev, ok := tags[host]; !ok {
			tags[host] = r.Dimensions
		} else if !slices.Equal(prev, r.Dimensions) {
			t.Fatalf("%s's dimensions changed: %v, then %v", host, prev, r.Dimensions)
		}
		if prev := last[host]; prev != nil {
			for i := range prev {
				d := math.Abs(float64(r.Measures[i].Value.I - prev[i].Value.I))
				steps++
				if d > 3 {
					bigSteps++
				}
			}
		}
		last[host] = r.Measures
	}
	// Steps are standard normal, then truncated: more than 3 apart is rare.
	if f := bigSteps / steps; f > 0.01 {
		t.Errorf("%.3f of steps exceed 3, want a random walk of small steps", f)
	}
	// The walks start uniform and wander within [0, 100]: the mean stays near 50.
	if mean := sum / float64(len(recs)*len(cpuFields)); mean < 45 || mean > 55 {
		t.Errorf("mean usage %.1f, want about 50", mean)
	}
	checkHostTags(t, tags)
}

// checkHostTags checks the dimensions of every host against TSBS's choices, and that
// hosts spread over them.
func checkHostTags(t *testing.T, tags map[string][]tables.Dimension) {
	t.Helper()
	names := []string{"arch", "datacenter", "hostname", "os", "rack", "region", "service", "service_environment", "service_version", "team"}
	seen := map[string]map[string]bool{}
	for host, dims := range tags {
		if len(dims) != len(names) {
			t.Fatalf("%s has %d dimensions, want %d", host, len(dims), len(names))
		}
		for i, d := range dims {
			if d.Name != names[i] {
				t.Fatalf("%s's dimension %d is %s, want %s", host, i, d.Name, names[i])
			}
			if seen[d.Name] == nil {
				seen[d.Name] = map[string]bool{}
			}
			seen[d.Name][d.Value] = true
		}
		reg, dc := dims[5].Value, dims[1].Value
		i := slices.IndexFunc(regions[:], func(r region) bool { return r.name == reg })
		if i < 0 || !slices.Contains(regions[i].datacenters, dc) {
			t.Fatalf("%s is in %s/%s, not a TSBS region and one of its datacenters", host, reg, dc)
		}
	}
	// 200 hosts cover every choice of the short lists, and many racks and services.
	for name, want := range map[string]int{"region": 9, "os": 3, "arch": 2, "team": 4, "service_version": 2, "service_environment": 3} {
		if got := len(seen[name]); got != want {
			t.Errorf("hosts have %d values of %s, want %d", got, name, want)
		}
	}
	if len(seen["rack"]) < 70 || len(seen["service"]) != 20 {
		t.Errorf("hosts have %d racks and %d services, want most of 100 and all 20", len(seen["rack"]), len(seen["service"]))
	}
}

func TestCPUOnlySplitsTogetherAreTheSingleDataSet(t *testing.T) {
	cfg := testConfig(23, 40) // not a multiple of any split count below
	single := map[string]tables.Record{}
	for _, r := range records(drain(t, mustCPUOnly(t, cfg, 0, 1), 100)) {
		single[key(r, "hostname")] = r
	}
	for _, splits := range []int{2, 3, 8, 30} {
		seen := 0
		for i := range splits {
			g := mustCPUOnly(t, cfg, i, splits)
			recs := records(drain(t, g, 7))
			if int64(len(recs)) != g.Rows() {
				t.Errorf("split %d/%d made %d rows, Rows() says %d", i, splits, len(recs), g.Rows())
			}
			for _, r := range recs {
				k := key(r, "hostname")
				if !reflect.DeepEqual(r, single[k]) {
					t.Fatalf("split %d/%d: %s differs from the single data set's:\n%+v\n%+v", i, splits, k, r, single[k])
				}
			}
			seen += len(recs)
		}
		if seen != len(single) {
			t.Errorf("%d splits made %d rows, the single data set %d", splits, seen, len(single))
		}
	}
}

// checkNameOrder checks that r's dimensions and measures are in name order, as the
// generator promises.
func checkNameOrder(t *testing.T, r tables.Record) {
	t.Helper()
	if !slices.IsSortedFunc(r.Dimensions, func(a, b tables.Dimension) int { return strings.Compare(a.Name, b.Name) }) ||
		!slices.IsSortedFunc(r.Measures, func(a, b tables.Measure) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("record %+v: dimensions or measures not in name order", r)
	}
}
