// Package tsbs generates the data sets of the Time Series Benchmark Suite
// (github.com/timescale/tsbs) as eddy table records, so eddy's tables can be loaded
// with the workloads other time-series databases publish figures for. It has the
// "cpu-only" and "iot" use cases.
//
// Each TSBS point becomes one multi-measure record: its tags are the dimensions, its
// measurement the measure name, its fields the measures, its time the record's Time in
// milliseconds. (TSBS's own Timestream loader instead writes one single-measure DOUBLE
// record per field; TSBS counts the fields as "metrics" and the points as "rows", which
// here are Stats.Values and Stats.Rows.)
//
// # cpu-only
//
// Hosts report every Interval from Start, Duration/Interval times each (TSBS rounds
// down too). A report is one "cpu" row of ten measures, usage_user, usage_system,
// usage_idle, usage_nice, usage_iowait, usage_irq, usage_softirq, usage_steal,
// usage_guest and usage_guest_nice, with ten dimensions fixed per host: hostname
// (host_0, host_1, ...), region (one of TSBS's 9 AWS regions) and datacenter (one of its
// zones), rack ("0" to "99"), os (3 choices), arch (2), team (4), service ("0" to "19"),
// service_version ("0" or "1") and service_environment (3).
//
// Each usage is a random walk with standard normal steps clamped to [0, 100], starting
// uniform in [0, 100); a host's first report has the starting points. TSBS keeps the
// walk in floating point but serializes every usage as a 64-bit integer, truncated
// toward zero (InfluxDB line protocol "usage_user=58i"; its TimescaleDB and Timestream
// loaders later put them in double columns). The records carry what TSBS writes: bigint
// measures from 0 to 100.
//
// # iot
//
// Trucks report every Interval a "readings" row and a "diagnostics" row; each epoch
// TSBS emits every truck's readings, then every truck's diagnostics. Dimensions, fixed
// per truck: name (truck_0, ...), fleet (East, West, North, South), driver (6 names),
// model (F-150, G-2000, H-2), device_version (v1.0, v1.5, v2.0, v2.3), and the model's
// load_capacity, fuel_capacity and nominal_fuel_consumption (TSBS writes these three as
// float32 tags; here they are their decimal text, as TSBS's Timestream loader sends
// them).
//
// readings are doubles, each a clamped random walk with uniform steps, written
// truncated toward zero to a fixed number of decimals: latitude (steps ±0.005, clamped
// to ±90, 5 decimals), longitude (±0.005, ±180, 5 decimals), elevation (±10, [0, 5000],
// whole), velocity (±10, [0, 100], whole, from 0), heading (±5, [0, 360], whole), grade
// (±5, [0, 100], whole, from 0), fuel_consumption (±5, [0, 50], 1 decimal, from 25).
// diagnostics: fuel_state, a double with 1 decimal that falls by up to 0.001 an interval
// from 1 and refills to 1 when it reaches 0; current_load, a whole double that starts at
// 0 and with chance 0.05 an interval jumps to a uniform draw below 5000; status, a
// bigint, a walk with standard normal steps clamped to [0, 5], truncated.
//
// TSBS then damages the stream, and so does this package, with TSBS's algorithm and
// chances. The stream is cut into batches of 10 entries. A batch is dropped whole with
// chance 0.01; otherwise, if batches were set aside, the oldest comes back in its place
// with chance 0.5; otherwise the batch is built, and set aside instead of emitted with
// chance 0.05. Building a batch walks the stream: at each of the first 10 positions, with
// chance 0.5 (while set-aside entries remain) the oldest set-aside entry takes the place
// of the next new one; the entry there is then dropped with chance 0.1, or else set aside
// with chance 0.3; the 10 entries that stay each lose one field with chance 0.09 and one
// tag with chance 0.009 (0.1 and 0.01 of the positions not dropped). The field is drawn
// among 7 and taken modulo the row's count, so a diagnostics row loses fuel_state more
// often (3 in 7) than the others. When the stream ends, what was set aside comes out,
// batches first.
//
// In the steady state that drops about 10% of the rows (Stats.Dropped), strips a field
// from 9% (the measure is left out of the record, as TSBS's loaders leave out an empty
// field) and a tag from 0.9% (the dimension is left out: eddy, like Timestream, has no
// empty dimension value), and emits about 19% of the rows after rows of their measure
// name that the simulation made later (Stats.Delayed; fewer than the 30% set aside,
// since set-aside entries are dropped or set aside again when they come back, and a
// set-aside batch often comes back before any later batch is emitted). The delays are counted in rows of the whole stream, a few dozen
// at most, not in intervals: with TSBS's thousands of trucks a truck's own rows stay in
// time order, and only a small fleet per split (a few dozen trucks) sees a truck's row
// arrive after its next one (Stats.OutOfOrder).
//
// # Determinism and splits
//
// A generator is a pure function of its Config, split and splits. Every device draws
// from its own random stream, seeded by Config.Seed and the device's id, so a device's
// tags and values do not depend on the other devices or on the split. Splits share the
// devices round-robin. For cpu-only, the splits together are exactly the unsplit data
// set. For iot, each split runs the damage over its own stream, as TSBS runs it over
// its one stream, so the splits together have the same shape as the unsplit data set
// but not its rows.
//
// # Where this package differs from TSBS
//
//   - The random source is our own (PCG per device), not TSBS's one global math/rand
//     stream, so the values are not TSBS's for the same seed; every distribution is.
//   - TSBS's scale-up (--initial-scale, devices joining over time) is not modelled:
//     every device reports from the start.
//   - At the very end TSBS can read a few points past its end time while building the
//     last batch; here the stream stops at Duration.
package tsbs
