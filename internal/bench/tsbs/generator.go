package tsbs

import (
	"fmt"

	"github.com/eddy-streams/eddy/internal/tables"
)

// Generator produces one split of a TSBS data set as eddy table records, one
// multi-measure record per TSBS point. It is not safe for concurrent use; give each
// loader its own split.
type Generator struct {
	cfg   Config
	rows  int64
	stats Stats

	cpu *cpuOnly
	iot *iot
}

// Stats counts what a Generator has emitted so far, for a benchmark's values per second
// and bytes per stored value, and for checking the IoT injection.
type Stats struct {
	// Rows is the records emitted.
	Rows int64
	// Values is the measure values in them: 10 per cpu-only row; 7 per IoT readings
	// row and 3 per diagnostics row, less the fields left out.
	Values int64

	// The counts below stay 0 for cpu-only.

	// Dropped is the rows the IoT simulation left out: missing entries and batches.
	// Rows + Dropped is Generator.Rows at the end.
	Dropped int64
	// MissingValues is the rows emitted with one field left out.
	MissingValues int64
	// MissingDimensions is the rows emitted with one tag left out.
	MissingDimensions int64
	// Delayed is the rows emitted after a row of the same measure name that the
	// simulation produced later: TSBS's out-of-order entries and batches.
	Delayed int64
	// OutOfOrder is the rows older than a row of the same truck and measure name
	// emitted before them: what a table sees as an out-of-order write. Delays are a
	// few dozen rows of the whole stream, so only fleets of a few dozen trucks or
	// fewer per split have any.
	OutOfOrder int64
}

// NewCPUOnly returns split split (0 ≤ split < splits) of TSBS's cpu-only data set as
// cfg describes it. Splits partition the hosts round-robin: this one simulates hosts
// split, split+splits, ..., each exactly as in the unsplit data set, so the splits
// together emit exactly the records of one split (in another order).
func NewCPUOnly(cfg Config, split, splits int) (*Generator, error) {
	g, err := newGenerator(cfg, split, splits)
	if err != nil {
		return nil, err
	}
	g.cpu = newCPUOnly(cfg, split, splits)
	g.rows = cfg.epochs() * int64(len(g.cpu.hosts))
	return g, nil
}

// NewIoT returns split split (0 ≤ split < splits) of TSBS's iot data set as cfg
// describes it. Splits partition the trucks round-robin, each truck simulated exactly
// as in the unsplit data set; the injected faults (missing and delayed rows, missing
// tags and fields) are drawn over each split's own stream, as TSBS draws them over its
// one stream, so the splits together are a data set of the same shape, not the unsplit
// one's records.
func NewIoT(cfg Config, split, splits int) (*Generator, error) {
	g, err := newGenerator(cfg, split, splits)
	if err != nil {
		return nil, err
	}
	g.iot = newIoT(cfg, split, splits)
	g.rows = g.iot.rows
	return g, nil
}

func newGenerator(cfg Config, split, splits int) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if splits < 1 || split < 0 || split >= splits {
		return nil, fmt.Errorf("tsbs generator: split %d of %d is out of range", split, splits)
	}
	return &Generator{cfg: cfg}, nil
}

// Next fills batch[:n] with the next records and returns the table they are for.
// Records come in the order TSBS emits its points: time by time, each time's devices
// in order (for IoT, each time's readings before its diagnostics, less the rows the
// injection drops and with the ones it delays). n is 0 only once the generator is
// exhausted (or batch is empty).
//
// With Config.Table set, every batch is for that table and follows that order. Without,
// the table is the records' measure name, and each table gets its own rows in that
// order, in full batches: for IoT, the generator holds back one table's rows while it
// fills a batch for the other.
//
// A record's dimensions and measures are in name order: in a multi-measure record
// TSBS's order carries no meaning, and eddy's write path, which keeps them sorted by
// name, can then take them as they are.
//
// The records' Dimensions and Measures slices belong to the generator: they stay valid
// until the next call of Next, and a caller must not modify them (a device's records
// share one Dimensions slice, and the next batch reuses the measures' names and types).
// The strings in them never change.
func (g *Generator) Next(batch []tables.Record) (n int, table string) {
	if g.cpu != nil {
		n = g.cpu.fill(&g.stats, batch)
	} else {
		n = g.iot.fill(&g.stats, batch, g.cfg.Table != "")
	}
	if n == 0 {
		return 0, ""
	}
	if g.cfg.Table != "" {
		return n, g.cfg.Table
	}
	return n, batch[0].MeasureName
}

// Rows is the rows this generator simulates: Hosts/splits devices (rounded to this
// split's share) times Duration/Interval reports, times two measure names for IoT.
// IoT emits fewer, Stats().Dropped fewer.
func (g *Generator) Rows() int64 { return g.rows }

// Stats counts what the generator has emitted so far.
func (g *Generator) Stats() Stats { return g.stats }
