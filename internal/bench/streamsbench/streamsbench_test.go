package streamsbench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/natslog"
)

// TestQuickRun runs a short version of the benchmark end to end. It checks that every
// case measured something, failed nothing and read back what it wrote; speed is not
// asserted.
func TestQuickRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Duration = 200 * time.Millisecond
	cfg.Fsync = []natslog.Fsync{natslog.FsyncInterval}
	cfg.Producers = []int{2}
	cfg.Sizes = []int{100}
	cfg.HTTPClients = 2
	cfg.Dir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]int{}
	for _, r := range rep.Results {
		paths[r.Path+" "+r.Mode]++
		if r.Records == 0 || r.RecordsPerSec <= 0 || r.MBPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
			t.Errorf("%s: no figures: %+v", r.name(), r)
		}
		if r.Failed != 0 {
			t.Errorf("%s: %d failed records: %s", r.name(), r.Failed, r.Error)
		}
		if r.Path == PathHTTP {
			continue
		}
		if r.Read == nil || r.Read.Records != r.Records || r.Read.Missing != 0 || r.Read.RecordsPerSec <= 0 {
			t.Errorf("%s: read back %+v of %d records", r.name(), r.Read, r.Records)
		}
		if r.Path != PathRaw && (r.VsRaw <= 0 || r.Read.VsRaw <= 0) {
			t.Errorf("%s: no ratio to the raw baseline", r.name())
		}
	}
	if len(rep.Results) != 4 || paths["raw async"] != 1 || paths["eddy single"] != 1 || paths["eddy batch"] != 1 || paths["http batch"] != 1 {
		t.Fatalf("cases run: %v", paths)
	}
	// The batched 100 B case is checked against its put and read targets, the HTTP case
	// against its own.
	if len(rep.Targets) != 3 {
		t.Errorf("targets checked: %+v", rep.Targets)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fsync interval", "raw", "single", "batch", "Targets", "≥ 1,000,000 records/s", "read-back", "http"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	t.Log("\n" + table.String())
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != 4 {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"duration":  func(c *Config) { c.Duration = 0 },
		"fsync":     func(c *Config) { c.Fsync = []natslog.Fsync{"sometimes"} },
		"producers": func(c *Config) { c.Producers = []int{0} },
		"size":      func(c *Config) { c.Sizes = []int{2 << 20} },
		"mode":      func(c *Config) { c.Modes = []Mode{"huge"} },
		"shards":    func(c *Config) { c.Shards = 0 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: bad config accepted", name)
		}
	}
}
