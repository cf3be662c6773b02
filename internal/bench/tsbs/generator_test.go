package tsbs

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/tables"
)

func testConfig(hosts int, epochs int64) Config {
	cfg := DefaultConfig()
	cfg.Hosts = hosts
	cfg.Duration = time.Duration(epochs) * cfg.Interval
	return cfg
}

func mustCPUOnly(t testing.TB, cfg Config, split, splits int) *Generator {
	t.Helper()
	g, err := NewCPUOnly(cfg, split, splits)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func mustIoT(t testing.TB, cfg Config, split, splits int) *Generator {
	t.Helper()
	g, err := NewIoT(cfg, split, splits)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// batch is what one call of Next returned, copied out of the generator's memory.
type batch struct {
	table   string
	records []tables.Record
}

// drain runs g to the end in batches of size and returns deep copies of what it made.
func drain(t testing.TB, g *Generator, size int) []batch {
	t.Helper()
	buf := make([]tables.Record, size)
	var out []batch
	for {
		n, table := g.Next(buf)
		if n == 0 {
			return out
		}
		b := batch{table: table, records: make([]tables.Record, n)}
		for i, r := range buf[:n] {
			r.Dimensions = slices.Clone(r.Dimensions)
			r.Measures = slices.Clone(r.Measures)
			b.records[i] = r
		}
		out = append(out, b)
	}
}

func records(bs []batch) []tables.Record {
	var out []tables.Record
	for _, b := range bs {
		out = append(out, b.records...)
	}
	return out
}

func dim(r tables.Record, name string) string {
	for _, d := range r.Dimensions {
		if d.Name == name {
			return d.Value
		}
	}
	return ""
}

// key identifies a row of the data set: its device, measure name and time.
func key(r tables.Record, device string) string {
	return fmt.Sprintf("%s/%s/%d", dim(r, device), r.MeasureName, r.Time)
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no hosts", func(c *Config) { c.Hosts = 0 }, "Hosts"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "Start"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "Duration"},
		{"sub-millisecond interval", func(c *Config) { c.Interval = 1500 * time.Microsecond }, "Interval"},
	} {
		cfg := DefaultConfig()
		tc.change(&cfg)
		if _, err := NewCPUOnly(cfg, 0, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewCPUOnly error %v, want one naming %s", tc.name, err, tc.want)
		}
		if _, err := NewIoT(cfg, 0, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewIoT error %v, want one naming %s", tc.name, err, tc.want)
		}
	}
	for _, s := range [][2]int{{0, 0}, {-1, 2}, {2, 2}} {
		if _, err := NewCPUOnly(DefaultConfig(), s[0], s[1]); err == nil {
			t.Errorf("split %d of %d accepted", s[0], s[1])
		}
	}
}

func TestRowsOfDefaultConfig(t *testing.T) {
	// TSBS's cpu-only run for 1,000 hosts over 12 hours at 10 s: 4,320 reports a host.
	if got := mustCPUOnly(t, DefaultConfig(), 0, 1).Rows(); got != 4_320_000 {
		t.Errorf("cpu-only Rows() = %d, want 4320000", got)
	}
	if got := mustIoT(t, DefaultConfig(), 0, 1).Rows(); got != 8_640_000 {
		t.Errorf("iot Rows() = %d, want 8640000", got)
	}
}
