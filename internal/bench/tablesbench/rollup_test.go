package tablesbench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRollupQuery loads a small cpu-only data set, derives the hourly rollup and asks
// it the query the bench times.
func TestRollupQuery(t *testing.T) {
	ctx := context.Background()
	cfg := DefaultConfig()
	cfg.Hosts = 5
	cfg.Span = map[UseCase]time.Duration{CPUOnly: 3*time.Hour + 20*time.Minute}
	cfg.Batch = 1000
	cfg.Dir = t.TempDir()
	b := &bench{cfg: cfg}
	tcfg := b.tsbsConfig(CPUOnly)
	e, err := b.openEnv(ctx, CPUOnly, tcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	ls, err := b.newLoaders(CPUOnly, tcfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.finish(ctx, ls); err != nil {
		t.Fatal(err)
	}
	ds, err := e.describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, err := rollupQuery(ctx, e, ds)
	if err != nil {
		t.Fatal(err)
	}
	// Four hours, the last one partial, for five hosts.
	rows, err := allRows(ctx, e.eng, q.sql(rand.New(rand.NewPCG(1, 2))))
	if err != nil {
		t.Fatal(err)
	}
	if q.name != "double-groupby-all (rollup)" || q.targetMs != 20 || len(rows) != 20 || len(rows[0]) != 2+len(cpuMeasures) {
		t.Fatalf("query %s (target %v ms): %d rows, first %v", q.name, q.targetMs, len(rows), rows[0])
	}
	if sameValue(1.0, 1.000001) || !sameValue(1.0, 1.0+1e-12) || sameValue("host_1", "host_2") {
		t.Fatal("sameValue tells apart what it should not, or the reverse")
	}
	// Called again, it replaces the rollup's rows and checks them again.
	if _, err := rollupQuery(ctx, e, ds); err != nil {
		t.Fatal(err)
	}
}
