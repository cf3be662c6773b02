package tsbs

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/eddy-streams/eddy/internal/tables"
)

// The measure names, and tables, of IoT rows.
const (
	readingsMeasure    = "readings"
	diagnosticsMeasure = "diagnostics"
)

// kind is which of a truck's two rows an entry is.
type kind uint8

const (
	readings kind = iota
	diagnostics
)

// The truck tag choices of TSBS's iot use case. A model fixes three more tags, its
// capacities, which TSBS writes as float32 tags; eddy's dimensions are strings, so they
// are the decimal text TSBS's serializers write for them.
var (
	fleets         = [...]string{"East", "West", "North", "South"}
	drivers        = [...]string{"Derek", "Rodney", "Albert", "Andy", "Seth", "Trish"}
	deviceVersions = [...]string{"v1.0", "v1.5", "v2.0", "v2.3"}
	models         = [...]struct{ name, load, fuel, consumption string }{
		{"F-150", "2000", "200", "15"},
		{"G-2000", "5000", "300", "19"},
		{"H-2", "1500", "150", "12"},
	}
	// truckTags are the dimensions of a truck, in name order (see Generator.Next).
	truckTags = [...]string{
		"device_version", "driver", "fleet", "fuel_capacity", "load_capacity",
		"model", "name", "nominal_fuel_consumption",
	}
)

// readingsFields and diagnosticsFields are the measures of each row in TSBS's order,
// which decides which field a row loses (see entry.field).
var (
	readingsFields    = [...]string{"latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"}
	diagnosticsFields = [...]string{"fuel_state", "current_load", "status"}
)

// readingsByName and diagnosticsByName are the indexes of the fields in name order,
// the order rows carry them in (see Generator.Next).
var (
	readingsByName    = [len(readingsFields)]int{2, 6, 5, 4, 0, 1, 3}
	diagnosticsByName = [len(diagnosticsFields)]int{1, 0, 2}
)

// readingWalks are TSBS's readings: each a random walk with steps uniform in
// [-step, step), clamped to [lo, hi], starting at start plus a uniform draw in
// [0, spread), and written truncated toward zero to scale's decimal places.
var readingWalks = [len(readingsFields)]struct {
	step, lo, hi, start, spread, scale float64
}{
	{0.005, -90, 90, 0, 90, 1e5},    // latitude
	{0.005, -180, 180, 0, 180, 1e5}, // longitude
	{10, 0, 5000, 0, 500, 1},        // elevation
	{10, 0, 100, 0, 0, 1},           // velocity
	{5, 0, 360, 0, 360, 1},          // heading
	{5, 0, 100, 0, 0, 1},            // grade
	{5, 0, 50, 25, 0, 10},           // fuel_consumption
}

// TSBS's diagnostics: fuel falls by up to maxFuelDrop an interval and refills at empty;
// the load is replaced by a uniform draw below maxLoad with probability
// loadChangeChance; the status is a walk with standard normal steps clamped to
// [0, maxStatus].
const (
	maxFuelDrop      = 0.001
	maxLoad          = 5000
	loadChangeChance = 0.05
	maxStatus        = 5
)

// truck is one simulated truck: its tags, fixed at creation, and the state of its
// readings and diagnostics.
type truck struct {
	r        *rand.Rand
	readings [len(readingsFields)]float64
	fuel     float64
	load     float64
	status   float64
	dims     []tables.Dimension
}

func newTruck(seed uint64, id int) truck {
	r := newRand(seed, streamDevice, uint64(id))
	t := truck{r: r, fuel: 1}
	for i, w := range readingWalks {
		t.readings[i] = w.start + r.Float64()*w.spread
	}
	m := &models[r.IntN(len(models))]
	fleet := fleets[r.IntN(len(fleets))]
	driver := drivers[r.IntN(len(drivers))]
	t.dims = []tables.Dimension{
		{Name: truckTags[0], Value: deviceVersions[r.IntN(len(deviceVersions))]},
		{Name: truckTags[1], Value: driver},
		{Name: truckTags[2], Value: fleet},
		{Name: truckTags[3], Value: m.fuel},
		{Name: truckTags[4], Value: m.load},
		{Name: truckTags[5], Value: m.name},
		{Name: truckTags[6], Value: "truck_" + strconv.Itoa(id)},
		{Name: truckTags[7], Value: m.consumption},
	}
	return t
}

// advance moves the truck on by one interval.
func (t *truck) advance() {
	r := t.r
	for i, w := range readingWalks {
		t.readings[i] = clamp(t.readings[i]+(r.Float64()*2-1)*w.step, w.lo, w.hi)
	}
	t.fuel = clamp(t.fuel-r.Float64()*maxFuelDrop, 0, 1)
	if t.fuel == 0 {
		t.fuel = 1
	}
	// The load starts at 0 and stays until the first change, as in TSBS.
	if r.Float64() >= 1-loadChangeChance {
		t.load = r.Float64() * maxLoad
	}
	t.status = clamp(t.status+r.NormFloat64(), 0, maxStatus)
}

// entry is one row of the IoT stream: what the truck reported, fixed when it was
// simulated, since a delayed entry is emitted after the truck has moved on.
type entry struct {
	seq   int64 // position in the simulation's stream
	time  int64
	truck int32 // index in iot.trucks
	kind  kind
	// field and tag are the field and tag left out, or -1. field is drawn below
	// len(readingsFields) and taken modulo the row's field count, as in TSBS.
	field, tag int8
	vals       [len(readingsFields)]float64
}

// TSBS's iot injection: the stream is cut into batches of batchSize entries, and each
// batch is missing, set aside (out of order) or emitted, with its entries dropped,
// set aside, or stripped of a field or tag at these chances.
const (
	batchSize = 10

	missingBatchChance  = 0.01
	lateBatchChance     = 0.05
	previousBatchChance = 0.5 // a set-aside batch comes back instead of a new one

	missingEntryChance  = 0.1
	lateEntryChance     = 0.3
	previousEntryChance = 0.5 // a set-aside entry comes back in a slot
	missingFieldChance  = 0.1
	missingTagChance    = 0.01
)

// batchPlan is what happens to the next batch.
type batchPlan struct {
	previous bool // emit the oldest set-aside batch instead
	missing  bool // drop the next batchSize entries
	late     bool // set the batch aside
	slots    [batchSize]slot
}

// slot is what happens at one place of a batch. reinsert, drop and delay apply to the
// entry at stream position i of the batch, which moves past dropped and delayed
// entries (positions batchSize and beyond have no plan); field and tag apply to the
// entry that ends up i-th in the batch.
type slot struct {
	reinsert, drop, delay bool
	field, tag            int8
}

// iot is the state of an IoT split: its trucks, the next (epoch, kind, truck) to
// simulate, and the injection's batches and set-aside entries.
type iot struct {
	cfg    Config
	trucks []truck
	r      *rand.Rand // the injection's draws
	rows   int64      // entries the simulation makes

	seq   int64 // entries simulated
	epoch int64
	kind  kind
	next  int // index in trucks

	plan        batchPlan
	cur         []entry   // the batch leaving the injection
	at          int       // entries of cur gone
	late        [][]entry // set-aside batches
	free        [][]entry // batches' memory to reuse
	lateEntries fifo      // set-aside entries

	// With a table per measure name, the entries of each kind wait here until a
	// batch of them is ready.
	ready [2]fifo

	emitted   [2]int64 // per kind, the highest seq emitted, plus one
	lastTimes []int64  // per truck and kind, the newest time emitted

	// measures and dims are the memory fill hands out in records' Measures and, for
	// rows with a tag left out, Dimensions. Every call rewrites them.
	measures []tables.Measure
	dims     []tables.Dimension
}

// fifo is a queue of entries that reuses its memory once half of it is consumed.
type fifo struct {
	buf  []entry
	head int
}

func (q *fifo) len() int { return len(q.buf) - q.head }

// push appends e. It may move the queued entries, so an entry pop returned is valid
// only until the next push.
func (q *fifo) push(e entry) {
	if q.head > 0 && q.head >= len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, e)
}

// pop removes the oldest entry and returns it; the queue must not be empty.
func (q *fifo) pop() *entry {
	q.head++
	return &q.buf[q.head-1]
}

func newIoT(cfg Config, split, splits int) *iot {
	it := &iot{
		cfg: cfg,
		r:   newRand(cfg.Seed, streamInjection, uint64(split)<<32|uint64(splits)),
	}
	for id := split; id < cfg.Hosts; id += splits {
		it.trucks = append(it.trucks, newTruck(cfg.Seed, id))
	}
	it.rows = cfg.epochs() * int64(len(it.trucks)) * 2
	it.lastTimes = make([]int64, 2*len(it.trucks))
	for i := range it.lastTimes {
		it.lastTimes[i] = math.MinInt64
	}
	return it
}

// simulate makes the next entry of the stream, as TSBS's simulator does: each epoch
// every truck's readings, then every truck's diagnostics. ok is false at the end.
func (it *iot) simulate(e *entry) (ok bool) {
	if it.seq == it.rows {
		return false
	}
	if it.next == len(it.trucks) {
		it.next = 0
		if it.kind == readings {
			it.kind = diagnostics
		} else {
			it.kind = readings
			it.epoch++
		}
	}
	t := &it.trucks[it.next]
	if it.kind == readings && it.epoch > 0 {
		t.advance()
	}
	*e = entry{seq: it.seq, time: it.cfg.timeOf(it.epoch), truck: int32(it.next), kind: it.kind, field: -1, tag: -1}
	if it.kind == readings {
		for i, w := range readingWalks {
			e.vals[i] = math.Trunc(t.readings[i]*w.scale) / w.scale
		}
	} else {
		e.vals[0] = math.Trunc(t.fuel*10) / 10
		e.vals[1] = math.Trunc(t.load)
		e.vals[2] = math.Trunc(t.status)
	}
	it.next++
	it.seq++
	return true
}

// draw plans the next batch, with TSBS's chances.
func (it *iot) draw() {
	p, r := &it.plan, it.r
	*p = batchPlan{}
	if r.Float64() < missingBatchChance {
		p.missing = true
		return
	}
	p.late = r.Float64() < lateBatchChance
	if len(it.late) > 0 && r.Float64() < previousBatchChance {
		p.previous = true
		return
	}
	pending := it.lateEntries.len()
	for i := range p.slots {
		s := &p.slots[i]
		s.field, s.tag = -1, -1
		if pending > 0 && r.Float64() < previousEntryChance {
			s.reinsert = true
			pending--
		}
		if r.Float64() < missingEntryChance {
			s.drop = true
			continue
		}
		if r.Float64() < missingFieldChance {
			s.field = int8(r.IntN(len(readingsFields)))
		}
		if r.Float64() < missingTagChance {
			s.tag = int8(r.IntN(len(truckTags)))
		}
		s.delay = r.Float64() < lateEntryChance
	}
}

// batch fills b with the next batch as planned; it is shorter only at the end of the
// simulation.
func (it *iot) batch(b []entry, stats *Stats) []entry {
	skipped := 0 // positions dropped or delayed so far
	for i := range batchSize {
		if it.seq == it.rows {
			break
		}
		var e entry
		for {
			var s *slot
			if pos := i + skipped; pos < batchSize {
				s = &it.plan.slots[pos]
			}
			if s != nil && s.reinsert {
				e = *it.lateEntries.pop()
			} else if !it.simulate(&e) {
				return b
			}
			if s == nil || !s.drop && !s.delay {
				break
			}
			skipped++
			if s.drop {
				stats.Dropped++
			} else {
				it.lateEntries.push(e)
			}
		}
		e.field, e.tag = it.plan.slots[i].field, it.plan.slots[i].tag
		b = append(b, e)
	}
	return b
}

func (it *iot) newBatch() []entry {
	if n := len(it.free); n > 0 {
		b := it.free[n-1]
		it.free = it.free[:n-1]
		return b[:0]
	}
	return make([]entry, 0, batchSize)
}

// popLate takes the oldest set-aside batch. There are few, so shifting the rest down
// costs little and keeps the slice's memory.
func (it *iot) popLate() []entry {
	b := it.late[0]
	n := copy(it.late, it.late[1:])
	it.late = it.late[:n]
	return b
}

// refill makes cur the next batch to emit. ok is false at the end.
func (it *iot) refill(stats *Stats) (ok bool) {
	if it.cur != nil {
		it.free = append(it.free, it.cur)
		it.cur, it.at = nil, 0
	}
	for {
		if it.seq == it.rows {
			// The simulation is over: what was set aside comes out, batches first.
			switch {
			case len(it.late) > 0:
				it.cur = it.popLate()
				return true
			case it.lateEntries.len() > 0:
				b := it.newBatch()
				for it.lateEntries.len() > 0 {
					b = append(b, *it.lateEntries.pop())
				}
				it.cur = b
				return true
			}
			return false
		}
		it.draw()
		switch {
		case it.plan.previous:
			it.cur = it.popLate()
			return true
		case it.plan.missing:
			var e entry
			for range batchSize {
				if !it.simulate(&e) {
					break
				}
				stats.Dropped++
			}
		default:
			b := it.batch(it.newBatch(), stats)
			switch {
			case len(b) == 0:
				it.free = append(it.free, b)
			case it.plan.late:
				it.late = append(it.late, b)
			default:
				it.cur = b
				return true
			}
		}
	}
}

func (it *iot) fill(stats *Stats, batch []tables.Record, oneTable bool) int {
	if cap(it.measures) < len(batch)*len(readingsFields) {
		it.measures = make([]tables.Measure, 0, len(batch)*len(readingsFields))
		it.dims = make([]tables.Dimension, 0, len(batch)*(len(truckTags)-1))
	}
	it.measures, it.dims = it.measures[:0], it.dims[:0]
	if oneTable {
		// One table takes the stream as it comes.
		n := 0
		for ; n < len(batch); n++ {
			e := it.pull(stats)
			if e == nil {
				break
			}
			it.emit(stats, e, &batch[n])
		}
		return n
	}
	// A table per measure name: each table gets its rows in stream order, in full
	// batches. Cutting the stream where the measure name changes would instead cut
	// every few rows around an epoch's switch from readings to diagnostics, where the
	// delayed rows of one interleave with the other.
	q := it.readyBatch(len(batch), stats)
	if q == nil {
		return 0
	}
	n := min(q.len(), len(batch))
	for i := range n {
		it.emit(stats, q.pop(), &batch[i])
	}
	return n
}

// pull is the next entry out of the injection, or nil at the end. It stays valid until
// the following call.
func (it *iot) pull(stats *Stats) *entry {
	if it.at == len(it.cur) && !it.refill(stats) {
		return nil
	}
	it.at++
	return &it.cur[it.at-1]
}

// readyBatch moves entries out of the injection until one kind has size waiting, or
// the stream ends, and returns that kind's queue; nil when both are empty at the end.
func (it *iot) readyBatch(size int, stats *Stats) *fifo {
	for {
		for k := range it.ready {
			if it.ready[k].len() >= size {
				return &it.ready[k]
			}
		}
		e := it.pull(stats)
		if e == nil {
			break
		}
		it.ready[e.kind].push(*e)
	}
	for k := range it.ready {
		if it.ready[k].len() > 0 {
			return &it.ready[k]
		}
	}
	return nil
}

func measureOf(k kind) string {
	if k == readings {
		return readingsMeasure
	}
	return diagnosticsMeasure
}

// emit turns e into rec and counts it.
func (it *iot) emit(stats *Stats, e *entry, rec *tables.Record) {
	t := &it.trucks[e.truck]
	dims := t.dims
	if e.tag >= 0 {
		i := len(it.dims)
		it.dims = append(it.dims, dims[:e.tag]...)
		it.dims = append(it.dims, dims[e.tag+1:]...)
		dims = it.dims[i:len(it.dims):len(it.dims)]
		stats.MissingDimensions++
	}
	fields, order := readingsFields[:], readingsByName[:]
	if e.kind == diagnostics {
		fields, order = diagnosticsFields[:], diagnosticsByName[:]
	}
	skip := -1
	if e.field >= 0 {
		skip = int(e.field) % len(fields)
		stats.MissingValues++
	}
	at := len(it.measures)
	it.measures = it.measures[:at+len(fields)]
	ms := it.measures[at:]
	j := 0
	for _, i := range order {
		if i == skip {
			continue
		}
		v := tables.DoubleValue(e.vals[i])
		if e.kind == diagnostics && i == 2 {
			// TSBS writes the status as an integer.
			v = tables.BigIntValue(int64(e.vals[i]))
		}
		ms[j] = tables.Measure{Name: fields[i], Value: v}
		j++
	}
	*rec = tables.Record{
		Time:        e.time,
		TimeUnit:    tables.Milliseconds,
		Dimensions:  dims,
		MeasureName: measureOf(e.kind),
		Measures:    ms[:j:j],
	}
	stats.Rows++
	stats.Values += int64(j)
	if e.seq < it.emitted[e.kind] {
		stats.Delayed++
	} else {
		it.emitted[e.kind] = e.seq + 1
	}
	series := 2*int(e.truck) + int(e.kind)
	if e.time < it.lastTimes[series] {
		stats.OutOfOrder++
	} else {
		it.lastTimes[series] = e.time
	}
}
