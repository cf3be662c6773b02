package tsbs

import (
	"math/rand/v2"
	"strconv"

	"github.com/eddy-streams/eddy/internal/tables"
)

// cpuMeasure is the measure name, and the table, of cpu-only rows.
const cpuMeasure = "cpu"

// cpuFields are the measures of a cpu-only row, in name order (see Generator.Next).
var cpuFields = [...]string{
	"usage_guest", "usage_guest_nice", "usage_idle", "usage_iowait", "usage_irq",
	"usage_nice", "usage_softirq", "usage_steal", "usage_system", "usage_user",
}

// The host tag choices of TSBS's devops use cases.
var (
	regions = [...]region{
		{"us-east-1", []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"}},
		{"us-west-1", []string{"us-west-1a", "us-west-1b"}},
		{"us-west-2", []string{"us-west-2a", "us-west-2b", "us-west-2c"}},
		{"eu-west-1", []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}},
		{"eu-central-1", []string{"eu-central-1a", "eu-central-1b"}},
		{"ap-southeast-1", []string{"ap-southeast-1a", "ap-southeast-1b"}},
		{"ap-southeast-2", []string{"ap-southeast-2a", "ap-southeast-2b"}},
		{"ap-northeast-1", []string{"ap-northeast-1a", "ap-northeast-1c"}},
		{"sa-east-1", []string{"sa-east-1a", "sa-east-1b", "sa-east-1c"}},
	}
	teams        = [...]string{"SF", "NYC", "LON", "CHI"}
	oses         = [...]string{"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"}
	arches       = [...]string{"x64", "x86"}
	environments = [...]string{"production", "staging", "test"}
)

// region is an AWS region and its availability zones, TSBS's datacenters.
type region struct {
	name        string
	datacenters []string
}

// Tag values TSBS draws as a number below a bound, written in decimal.
const (
	racksPerDatacenter = 100
	services           = 20
	serviceVersions    = 2
)

// host is one simulated machine: its tags, fixed at creation, and its ten CPU usage
// percentages, each a random walk clamped to [0, 100] with standard normal steps.
type host struct {
	r     *rand.Rand
	usage [len(cpuFields)]float64
	dims  []tables.Dimension
}

func newHost(seed uint64, id int) host {
	r := newRand(seed, streamDevice, uint64(id))
	h := host{r: r}
	for i := range h.usage {
		h.usage[i] = r.Float64() * 100
	}
	reg := &regions[r.IntN(len(regions))]
	datacenter := reg.datacenters[r.IntN(len(reg.datacenters))]
	rack := strconv.Itoa(r.IntN(racksPerDatacenter))
	// In name order (see Generator.Next).
	h.dims = []tables.Dimension{
		{Name: "arch", Value: arches[r.IntN(len(arches))]},
		{Name: "datacenter", Value: datacenter},
		{Name: "hostname", Value: "host_" + strconv.Itoa(id)},
		{Name: "os", Value: oses[r.IntN(len(oses))]},
		{Name: "rack", Value: rack},
		{Name: "region", Value: reg.name},
		{Name: "service", Value: strconv.Itoa(r.IntN(services))},
		{Name: "service_environment", Value: environments[r.IntN(len(environments))]},
		{Name: "service_version", Value: strconv.Itoa(r.IntN(serviceVersions))},
		{Name: "team", Value: teams[r.IntN(len(teams))]},
	}
	return h
}

// advance moves the host on by one interval.
func (h *host) advance() {
	for i := range h.usage {
		h.usage[i] = clamp(h.usage[i]+h.r.NormFloat64(), 0, 100)
	}
}

// cpuOnly is the state of a cpu-only split: its hosts and the next (epoch, host) to
// emit.
type cpuOnly struct {
	cfg    Config
	epochs int64
	hosts  []host
	epoch  int64
	next   int // index in hosts

	// measures is the memory of the rows' measures, len(cpuFields) a row. The names
	// and types are set once; a row writes only the values.
	measures []tables.Measure
}

func newCPUOnly(cfg Config, split, splits int) *cpuOnly {
	c := &cpuOnly{cfg: cfg, epochs: cfg.epochs()}
	for id := split; id < cfg.Hosts; id += splits {
		c.hosts = append(c.hosts, newHost(cfg.Seed, id))
	}
	return c
}

func (c *cpuOnly) fill(stats *Stats, batch []tables.Record) int {
	if len(c.hosts) == 0 {
		return 0
	}
	if len(c.measures) < len(batch)*len(cpuFields) {
		c.measures = make([]tables.Measure, len(batch)*len(cpuFields))
		for i := range c.measures {
			c.measures[i] = tables.Measure{Name: cpuFields[i%len(cpuFields)], Value: tables.BigIntValue(0)}
		}
	}
	n := 0
	for n < len(batch) {
		if c.next == len(c.hosts) {
			c.next = 0
			c.epoch++
		}
		if c.epoch >= c.epochs {
			break
		}
		h := &c.hosts[c.next]
		// A host's first row has the walks' starting points, as in TSBS.
		if c.epoch > 0 {
			h.advance()
		}
		ms := c.measures[n*len(cpuFields) : (n+1)*len(cpuFields) : (n+1)*len(cpuFields)]
		for i := range ms {
			// TSBS writes the usages as integers, the walk truncated toward zero.
			ms[i].Value.I = int64(h.usage[i])
		}
		batch[n] = tables.Record{
			Time:        c.cfg.timeOf(c.epoch),
			TimeUnit:    tables.Milliseconds,
			Dimensions:  h.dims,
			MeasureName: cpuMeasure,
			Measures:    ms,
		}
		n++
		c.next++
	}
	stats.Rows += int64(n)
	stats.Values += int64(n * len(cpuFields))
	return n
}
