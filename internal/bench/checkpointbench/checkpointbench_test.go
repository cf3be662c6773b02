package checkpointbench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the benchmark end to end on a tiny state. It checks that every
// figure was measured and that the restored state is whole; speed is not asserted.
func TestQuickRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.States = []int64{1 * mb}
	cfg.Interval = 200 * time.Millisecond
	cfg.Duration = time.Second
	cfg.Parallelism = 2
	cfg.Dir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Error != "" {
		t.Fatalf("case failed: %s", r.Error)
	}
	if r.Keys != 10_000 || r.HeapBytes <= 0 || r.PeakMemoryBytes <= 0 || r.FillSeconds <= 0 {
		t.Errorf("state figures missing: %+v", r)
	}
	if r.Checkpoints < 2 || r.DurationP50Ms <= 0 || r.DurationMaxMs < r.DurationP50Ms || r.PauseP50Ms <= 0 || r.PauseMaxMs < r.PauseP50Ms {
		t.Errorf("checkpoint figures missing: %+v", r)
	}
	// Every value is in every checkpoint: at least the values' bytes.
	if r.BytesPerCheckpoint < r.StateBytes {
		t.Errorf("%d bytes per checkpoint, less than the %d bytes of values", r.BytesPerCheckpoint, r.StateBytes)
	}
	if r.BaselineRecordsPerSec <= 0 || r.CheckpointRecordsPerSec <= 0 || r.VsBaseline <= 0 {
		t.Errorf("throughput figures missing: %+v", r)
	}
	if r.RecoveryMs <= 0 || r.RestoreSampled == 0 || r.RestoreMissing != 0 {
		t.Errorf("restore: %.1f ms, %d of %d sampled keys missing", r.RecoveryMs, r.RestoreMissing, r.RestoreSampled)
	}
	if len(rep.Targets) != 2 {
		t.Errorf("targets checked: %+v", rep.Targets)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 MB", "pause ≤50ms", "recovery <3s", "×base", "not measured, no rows, because the Pebble backend is not built", cfg.Dir} {
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
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != 1 || back.Results[0].Checkpoints != r.Checkpoints {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"100MB": 100_000_000, "1GB": 1_000_000_000, "1.5 gb": 1_500_000_000, "512KiB": 512 << 10, "4096": 4096, "2MiB": 2 << 20} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "ten"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no states":   func(c *Config) { c.States = nil },
		"value bytes": func(c *Config) { c.ValueBytes = 0 },
		"interval":    func(c *Config) { c.Interval = 0 },
		"duration":    func(c *Config) { c.Duration = c.Interval / 2 },
		"parallelism": func(c *Config) { c.Parallelism = 0 },
		"no keys":     func(c *Config) { c.States = []int64{10}; c.ValueBytes = 100 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if err := cfg.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
