package checkpointbench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the benchmark end to end on a tiny state with both backends. It
// checks that every figure was measured and that the restored state is whole; speed is
// not asserted.
func TestQuickRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Backends = []string{"heap", "pebble"}
	cfg.States = []int64{1 * mb}
	cfg.Interval = 200 * time.Millisecond
	cfg.Duration = time.Second
	cfg.Parallelism = 2
	cfg.Dir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Error != "" {
			t.Fatalf("%s: case failed: %s", r.Backend, r.Error)
		}
		if r.Keys != 10_000 || r.HeapBytes <= 0 || r.PeakMemoryBytes <= 0 || r.FillSeconds <= 0 {
			t.Errorf("%s: state figures missing: %+v", r.Backend, r)
		}
		if r.Checkpoints < 2 || r.DurationP50Ms <= 0 || r.DurationMaxMs < r.DurationP50Ms || r.PauseP50Ms <= 0 || r.PauseMaxMs < r.PauseP50Ms {
			t.Errorf("%s: checkpoint figures missing: %+v", r.Backend, r)
		}
		// The first checkpoint after the fill holds every value: at least the values'
		// bytes, or half of them as Pebble compresses its blocks (the values are windows
		// of one random pattern).
		if r.FirstCheckpointBytes < r.StateBytes/2 {
			t.Errorf("%s: %d bytes in the first checkpoint, less than the %d bytes of values", r.Backend, r.FirstCheckpointBytes, r.StateBytes)
		}
		if r.ChangedKeys != 100 || r.IncrementalBytes <= 0 || r.IncrementalFullBytes < r.StateBytes/2 || r.IncrementalPercent <= 0 {
			t.Errorf("%s: incremental figures missing: %+v", r.Backend, r)
		}
		if r.BaselineRecordsPerSec <= 0 || r.CheckpointRecordsPerSec <= 0 || r.VsBaseline <= 0 {
			t.Errorf("%s: throughput figures missing: %+v", r.Backend, r)
		}
		if r.RecoveryMs <= 0 || r.RestoreSampled == 0 || r.RestoreMissing != 0 {
			t.Errorf("%s: restore: %.1f ms, %d of %d sampled keys missing", r.Backend, r.RecoveryMs, r.RestoreMissing, r.RestoreSampled)
		}
	}
	heap, pebble := rep.Results[0], rep.Results[1]
	// Heap checkpoints write the whole state each time; Pebble's refer to files earlier
	// ones wrote (how much depends on the compactions a state this small triggers: the
	// share is measured at real sizes, and tested in flow).
	if heap.BytesPerCheckpoint < heap.StateBytes || heap.IncrementalBytes < heap.StateBytes {
		t.Errorf("heap checkpoints wrote %d bytes (periodic) and %d (after the 1%% change) of a %d-byte state", heap.BytesPerCheckpoint, heap.IncrementalBytes, heap.StateBytes)
	}
	if pebble.DiskBytes <= 0 || pebble.IncrementalBytes >= pebble.IncrementalFullBytes {
		t.Errorf("pebble: %d bytes on disk; the checkpoint after the 1%% change wrote %d bytes and holds %d", pebble.DiskBytes, pebble.IncrementalBytes, pebble.IncrementalFullBytes)
	}
	if len(rep.Targets) != 5 {
		t.Errorf("targets checked: %+v", rep.Targets)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 MB", "pause ≤50ms", "recovery <3s", "1% change <5%", "×base", "Incremental checkpoints", "pebble", cfg.Dir} {
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
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != 2 || back.Results[1].IncrementalBytes != rep.Results[1].IncrementalBytes {
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
		"no backends": func(c *Config) { c.Backends = nil },
		"backend":     func(c *Config) { c.Backends = []string{"rocksdb"} },
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
