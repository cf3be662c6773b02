package tsbs

import (
	"errors"
	"fmt"
	"time"
)

// Config sets what a Generator produces. Start from DefaultConfig: the zero Config is
// not valid.
type Config struct {
	// Hosts is the number of simulated devices, TSBS's --scale: hosts for cpu-only,
	// trucks for iot.
	Hosts int
	// Start is the time of the first row of every device.
	Start time.Time
	// Duration is how long the simulation runs: each device reports Duration/Interval
	// times (rounded down, as TSBS does), at Start, Start+Interval, ...
	Duration time.Duration
	// Interval is the time between two reports of a device, TSBS's --log-interval. It
	// is a whole number of milliseconds, the unit of the records' Time.
	Interval time.Duration
	// Seed selects one of many equally shaped data sets; generators with the same
	// Config, split and splits produce the same records.
	Seed uint64
	// Table, if set, is the one table every record is for, and a batch may mix
	// measure names. Empty means TSBS's layout, a table per measure name ("cpu";
	// "readings" and "diagnostics"); see Generator.Next.
	Table string
}

// DefaultConfig is the configuration of published TSBS runs: 1,000 devices reporting
// every 10 s for 12 hours from TSBS's default start, 2016-01-01T00:00:00Z. A load into
// eddy's tables moves Start inside the tables' memory retention (or lets them take late
// writes into the magnetic tier): the default start is years in the past.
func DefaultConfig() Config {
	return Config{
		Hosts:    1000,
		Start:    time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC),
		Duration: 12 * time.Hour,
		Interval: 10 * time.Second,
	}
}

// Validate reports every setting a Generator cannot work with.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, want string, v any) {
		errs = append(errs, fmt.Errorf("%s must %s, is %v", name, want, v))
	}
	if c.Hosts < 1 {
		bad("Hosts", "be positive", c.Hosts)
	}
	if c.Start.IsZero() {
		bad("Start", "be set", "the zero time")
	}
	if c.Duration < 0 {
		bad("Duration", "not be negative", c.Duration)
	}
	if c.Interval < time.Millisecond || c.Interval%time.Millisecond != 0 {
		bad("Interval", "be a positive whole number of milliseconds", c.Interval)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tsbs config: %w", err)
	}
	return nil
}

// epochs is how many times each device reports.
func (c Config) epochs() int64 { return int64(c.Duration / c.Interval) }

// timeOf is the time, in Unix milliseconds, of the reports of epoch e.
func (c Config) timeOf(e int64) int64 {
	return c.Start.UnixMilli() + e*c.Interval.Milliseconds()
}
