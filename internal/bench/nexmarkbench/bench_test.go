package nexmarkbench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestQuickRun runs the benchmark end to end on a few events, every query from both
// sources. It checks that every run read every event, produced rows and timed some of
// them, and that the report shows it; speed is not asserted.
func TestQuickRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Queries = QueryNames()
	cfg.Events = 20_000
	cfg.Rate = 10_000 // 2 s of event time, so windows hold a few thousand events
	cfg.Parallelism = 2
	cfg.Dir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Preload == nil || rep.Preload.Events != cfg.Events || rep.Preload.EventsPerSec <= 0 {
		t.Errorf("preload %+v", rep.Preload)
	}
	if len(rep.Results) != 2*len(cfg.Queries) {
		t.Fatalf("%d results, want %d", len(rep.Results), 2*len(cfg.Queries))
	}
	rows := map[string]int64{}
	for _, r := range rep.Results {
		if r.Events != cfg.Events || r.EventsPerSec <= 0 || r.EventsPerSecPerCore <= 0 || r.Results == 0 || r.LatencySamples == 0 || r.Error != "" {
			t.Errorf("%s from %s: %+v", r.Query, r.Source, r)
		}
		if r.P99Ms < r.P50Ms || r.MaxMs < r.P99Ms {
			t.Errorf("%s from %s: latency p50 %v p99 %v max %v out of order", r.Query, r.Source, r.P50Ms, r.P99Ms, r.MaxMs)
		}
		// Both sources deliver the same events; only q12's processing-time windows may
		// split them differently.
		if prev, ok := rows[r.Query]; ok && prev != r.Results && r.Query != "q12" {
			t.Errorf("%s: %d rows from one source, %d from the other", r.Query, prev, r.Results)
		}
		rows[r.Query] = r.Results
	}
	if len(rep.Targets) != 5 {
		t.Errorf("targets checked: %+v", rep.Targets)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Preload", "GOMAXPROCS", "q11", "stream", "memory", "Targets", "q0 ≥ 1,000,000 events/s", "p99"} {
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
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != len(rep.Results) || back.Preload == nil {
		t.Fatalf("JSON does not round-trip: %v", err)
	}
}

func TestConfigRejectsBadValues(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"query":       func(c *Config) { c.Queries = []string{"q6"} },
		"no query":    func(c *Config) { c.Queries = nil },
		"source":      func(c *Config) { c.Sources = []Source{"kafka"} },
		"events":      func(c *Config) { c.Events = 0 },
		"rate":        func(c *Config) { c.Rate = -1 },
		"parallelism": func(c *Config) { c.Parallelism = 0 },
		"shards":      func(c *Config) { c.Shards = 5000 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: a bad config was accepted", name)
		}
	}
}

// TestLatencyReference checks the times results are measured from: when a source
// subtask first reached an event time, when any did or when the last one did, and the
// end of the input for event times no subtask reached.
func TestLatencyReference(t *testing.T) {
	p := newProgress(1000, 100, 2)
	a, b := p.subtasks[0], p.subtasks[1]
	a.observe(1000)
	aAt1000 := p.own(0, 1000)
	b.observe(1010)
	bAt1010 := p.own(1, 1005)
	a.observe(1005) // a lags
	aAt1005 := p.own(0, 1005)
	switch {
	case aAt1000 == 0 || bAt1010 <= aAt1000 || aAt1005 <= bAt1010:
		t.Fatalf("own references %d %d %d", aAt1000, bAt1010, aAt1005)
	case p.first(1005) != bAt1010 || p.first(990) != aAt1000 || p.own(1, 990) != bAt1010:
		t.Fatalf("first reached 1005 at %d, want %d", p.first(1005), bAt1010)
	case p.last(1005) != aAt1005 || p.last(1010) != 0:
		t.Fatalf("last reached 1005 at %d (want %d), 1010 at %d (want unknown)", p.last(1005), aAt1005, p.last(1010))
	case p.first(1011) != 0:
		t.Fatalf("an event time no source reached has reference %d before the end", p.first(1011))
	}
	a.end()
	if p.first(1011) != 0 || p.last(1010) != a.ended.Load() {
		t.Fatal("with one subtask still running: the end was taken for the input's")
	}
	b.end()
	if end := p.first(1050); end != b.ended.Load() || p.last(1050) != end || p.events() != 3 {
		t.Fatalf("after the end: reference %d, %d events", end, p.events())
	}
}

func TestQuickRunWithCheckpoints(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Queries = []string{"q5", "q11"}
	cfg.Sources = []Source{Memory}
	cfg.Events = 20_000
	cfg.Rate = 10_000
	cfg.Parallelism = 2
	cfg.Dir = t.TempDir()
	cfg.CheckpointInterval = 5 * time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Events != cfg.Events || r.Results == 0 {
			t.Fatalf("%s with checkpoints: %+v", r.Query, r)
		}
	}
}
