package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddy-streams/eddy/internal/apierr"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables/wal"
)

// table is one table's write path, memory tier and magnetic tier.
//
// Locks: mu guards the decisions (index, seq, layout, settings, the write-ahead log's
// order); memMu guards the DuckDB memory table, which the publisher fills and tiering
// empties. A goroutine holding mu may take memMu, never the reverse.
type table struct {
	svc        *Service
	db, name   string
	dir        string
	log        *slog.Logger
	magnetic   *magneticStore
	manifestAt string
	// lastAt is the file the last points are saved to at each move (see loadLast).
	lastAt string

	settings atomic.Pointer[Table]

	mu sync.Mutex
	// dims and measures are the learned columns in the order rows give their values;
	// dimPos and measPos find a column's place.
	dims     []string
	measures []eddysql.Measure
	dimPos   map[string]int
	measPos  map[string]int
	nextSID  uint32
	// shape* are the columns of the last row checkSchema passed (see sameShape).
	shapeDims, shapeMeasures []string
	shapeTypes               []ColumnType
	shapePos                 []int
	ix                       *index
	seq                      uint64
	wal                      *wal.Log
	enc                      walEncoder
	norm                     normalizer
	// segMax is the newest row time in each write-ahead log segment, which decides when
	// a segment holds nothing the memory tier still needs.
	segMax map[uint64]int64
	// movedCut is the cut of the latest move to the magnetic tier: a row older than it
	// is a late write, which the view resolves against the magnetic files.
	movedCut int64
	queue    chan *pubBatch
	closed   bool
	// broken is the write-ahead log's failure, after which the table takes no writes.
	broken error
	// lastWait waits for the last entry queued in the log to be durable.
	lastWait func() error

	// tierMu makes tiering passes over the table run one at a time; tierErr stops them.
	tierMu  sync.Mutex
	tierErr error

	memMu                sync.Mutex
	mem                  *eddysql.MemoryTable
	memDims, memMeasures int
	manifest             *manifest
	// memLate holds the days where the memory table has late rows.
	memLate map[int64]bool
	// lastTime is the time of each series' latest published row (by series id), and
	// lastPend the seq of the row to merge into the last-point table at the next flush
	// (0 for none); lastDirty lists the series with one. See eddysql.LastSuffix.
	lastTime     []int64
	lastPend     []eddysql.Row
	lastDirty    []uint32
	lastRows     []eddysql.Row
	lastMergedAt time.Time

	pubMu   sync.Mutex
	pubCond *sync.Cond
	// appended is the last seq appended to DuckDB, visible the last seq flushed
	// (queryable), lastVisible the last seq merged into the last-point table; all only
	// grow.
	appended, visible, lastVisible uint64
	pubErr                         error
	pubDone                        chan struct{}
	// flushNow asks the publisher to flush at once: someone waits for the rows.
	flushNow chan struct{}
}

// pubBatch is what one write accepted, on its way into the DuckDB memory table once the
// write-ahead log has it.
type pubBatch struct {
	lastSeq uint64
	// dims and measures are the columns the rows were built with (prefixes of the
	// table's, which only grow at their end).
	dims     []string
	measures []eddysql.Measure
	series   []eddysql.Series
	rows     []eddysql.Row
	// repl marks rows that replace a row of an earlier batch (deleted in the same
	// transaction); dead marks rows replaced within this batch, never published.
	repl, dead []bool
	deletes    []uint64
	// late holds the days of this batch's late rows.
	late     []int64
	block    []any
	firstSeq uint64
	durable  chan struct{}
	err      error
}

// values returns a slice of n values for a row, cut from a block shared by the batch's
// rows so that a batch makes few allocations.
func (b *pubBatch) values(n int) []any {
	if len(b.block) < n {
		b.block = make([]any, max(n*256, 4096))
	}
	v := b.block[:n:n]
	b.block = b.block[n:]
	return v
}

func (b *pubBatch) add(r eddysql.Row, repl bool) {
	b.rows = append(b.rows, r)
	b.repl = append(b.repl, repl)
	b.dead = append(b.dead, false)
}

// openTable opens t's storage: its manifest and magnetic files (quarantining corrupt
// ones and deleting orphans), its memory table and view in DuckDB, and its write-ahead
// log, replayed into the memory tier.
func (s *Service) openTable(ctx context.Context, settings Table) (*table, error) {
	dir := filepath.Join(s.dataDir, "data", settings.Database, settings.Name)
	t := &table{
		svc: s, db: settings.Database, name: settings.Name, dir: dir,
		log:        s.log.With("database", settings.Database, "table", settings.Name),
		magnetic:   s.magnetic,
		manifestAt: filepath.Join(dir, "manifest.json"),
		lastAt:     filepath.Join(dir, "last.parquet"),
		dimPos:     map[string]int{},
		measPos:    map[string]int{},
		ix:         newIndex(),
		segMax:     map[uint64]int64{},
		queue:      make(chan *pubBatch, 256),
		pubDone:    make(chan struct{}),
		flushNow:   make(chan struct{}, 1),
		memLate:    map[int64]bool{},
	}
	t.pubCond = sync.NewCond(&t.pubMu)
	t.settings.Store(&settings)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m, err := loadManifest(t.manifestAt)
	if err != nil {
		return nil, err
	}
	t.manifest = m
	t.movedCut = m.Moved.Cut
	if err := t.checkMagnetic(ctx); err != nil {
		return nil, err
	}
	for _, d := range settings.Schema.Dimensions {
		t.learnDim(d)
	}
	names := make([]string, 0, len(settings.Schema.Measures))
	for n := range settings.Schema.Measures {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.learnMeasure(n, settings.Schema.Measures[n])
	}
	t.mem, err = s.engine.OpenMemoryTable(ctx, t.sqlSchema(), t.sqlMagnetic())
	if err != nil {
		return nil, err
	}
	t.memDims, t.memMeasures = len(t.dims), len(t.measures)
	if err := t.loadLast(ctx); err != nil {
		t.mem.Close()
		return nil, err
	}
	t.wal, err = wal.Open(wal.Options{Dir: filepath.Join(dir, "wal"), Fsync: s.fsync})
	if err != nil {
		t.mem.Close()
		return nil, err
	}
	if end := t.wal.End(); end.Less(t.manifest.Moved.WAL) {
		// The log lost its tail (a power loss with --fsync interval): positions the
		// manifest counts as moved would be handed out again, and replay would skip
		// rows written there. What the log still holds before its end is covered as
		// before.
		t.manifest.Moved.WAL = end
		if err := t.manifest.save(t.manifestAt); err != nil {
			t.wal.Close()
			t.mem.Close()
			return nil, err
		}
	}
	go t.publish()
	if err := t.replay(); err != nil {
		t.close()
		return nil, fmt.Errorf("replay the write-ahead log of %s.%s: %w", t.db, t.name, err)
	}
	if err := t.sync(); err != nil {
		t.close()
		return nil, fmt.Errorf("load the memory tier of %s.%s: %w", t.db, t.name, err)
	}
	return t, nil
}

// loadLast fills the last-point table before the write-ahead log is replayed into it:
// from the file the latest move saved, which holds every row that move took out of the
// replay, or else (no file yet, or an unreadable one) from a scan of the magnetic files.
// Rows of partitions retention dropped since the file was saved are left out: every row
// older than the oldest partition left is in the memory tier, and replay merges it.
func (t *table) loadLast(ctx context.Context) error {
	keepFrom := t.manifest.Moved.Cut
	for name := range t.manifest.Partitions {
		day, err := partitionStart(name)
		if err != nil {
			return err
		}
		keepFrom = min(keepFrom, day)
	}
	ok, err := t.mem.LoadLastFile(ctx, t.lastAt, keepFrom)
	if err != nil {
		t.log.Warn("last points: the saved file is unreadable; scanning the magnetic tier instead", "err", err)
	}
	if ok {
		return nil
	}
	return t.mem.LoadLast(ctx, t.sqlMagnetic())
}

// checkMagnetic verifies every file the manifest lists (quarantining and dropping the
// corrupt ones, loudly) and deletes files it does not list: leftovers of a crash during
// tiering or compaction.
func (t *table) checkMagnetic(ctx context.Context) error {
	changed := false
	for name, p := range t.manifest.Partitions {
		kept := p.Files[:0]
		for _, f := range p.Files {
			err := t.magnetic.fetch(ctx, f)
			var ce *corruptError
			if errors.As(err, &ce) {
				t.log.Error("magnetic file quarantined: its rows are not served", "file", f.Key, "rows", f.Rows, "reason", ce.why)
				t.svc.metrics.quarantined.Add(1)
				_ = t.magnetic.quarantine(ctx, f.Key)
				changed = true
				continue
			}
			if err != nil {
				return err
			}
			kept = append(kept, f)
		}
		p.Files = kept
		if len(kept) == 0 {
			delete(t.manifest.Partitions, name)
		}
	}
	if changed {
		if err := t.manifest.save(t.manifestAt); err != nil {
			return err
		}
	}
	keys, err := t.magnetic.list(ctx, t.db+"/"+t.name+"/")
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, p := range t.manifest.Partitions {
		for _, f := range p.Files {
			live[f.Key] = true
		}
	}
	for _, k := range keys {
		if !live[k] {
			if err := t.magnetic.remove(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// learnDim and learnMeasure add a column if it is new.
func (t *table) learnDim(name string) {
	if _, ok := t.dimPos[name]; !ok {
		t.dimPos[name] = len(t.dims)
		t.dims = append(t.dims, name)
	}
}

func (t *table) learnMeasure(name string, typ ColumnType) {
	if _, ok := t.measPos[name]; !ok {
		t.measPos[name] = len(t.measures)
		t.measures = append(t.measures, eddysql.Measure{Name: name, Type: string(typ)})
	}
}

// sqlMagnetic describes the magnetic tier for the view (callers hold memMu).
func (t *table) sqlMagnetic() eddysql.Magnetic { return t.magnetic.sqlMagnetic(t.manifest, t.memLate) }

func (t *table) sqlSchema() eddysql.TableSchema {
	return eddysql.TableSchema{Database: t.db, Table: t.name, Dimensions: slices.Clone(t.dims), Measures: slices.Clone(t.measures)}
}

// replay rebuilds the memory tier from the write-ahead log: rows the manifest says were
// moved to the magnetic tier are skipped.
func (t *table) replay() error {
	moved := t.manifest.Moved
	b := &pubBatch{durable: make(chan struct{})}
	close(b.durable)
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.wal.Replay(wal.Pos{}, func(pos wal.Pos, payload []byte) error {
		return decodeWALEntry(payload, func(r *row) error {
			if pos.Less(moved.WAL) && r.time < moved.Cut {
				return nil
			}
			if err := t.learnRow(r); err != nil {
				return fmt.Errorf("entry at %s: %w", pos, err)
			}
			t.noteSegment(pos.Segment, r.time)
			t.apply(b, r)
			if len(b.rows) >= 4096 {
				t.enqueue(b)
				b = &pubBatch{durable: make(chan struct{})}
				close(b.durable)
			}
			return nil
		})
	})
	if len(b.rows) > 0 {
		t.enqueue(b)
	}
	return err
}

func (t *table) noteSegment(seg uint64, time int64) {
	if m, ok := t.segMax[seg]; !ok || time > m {
		t.segMax[seg] = time
	}
}

// learnRow makes sure the layout has r's columns; during replay they are in the catalog
// already (learned before the write was logged).
func (t *table) learnRow(r *row) error {
	for _, d := range r.dims {
		t.learnDim(d.Name)
	}
	for _, m := range r.measures {
		t.learnMeasure(m.Name, m.Value.Type)
	}
	return nil
}

// apply decides r against the index under a new seq and adds it to b. It returns the
// outcome and, for a conflict, the stored version.
func (t *table) apply(b *pubBatch, r *row) (outcome, int64) {
	seq := t.seq + 1
	s, o, old, existing := t.ix.upsert(r, seq)
	if o == unchanged || o == conflict {
		return o, existing
	}
	t.seq = seq
	if b.firstSeq == 0 {
		b.firstSeq = seq
	}
	b.lastSeq = seq
	b.dims = t.dims[:len(t.dims):len(t.dims)]
	b.measures = t.measures[:len(t.measures):len(t.measures)]
	if s.id == 0 {
		t.nextSID++
		s.id = t.nextSID
		ser := eddysql.Series{ID: s.id, MeasureName: r.measureName, Dimensions: make([]string, len(t.dims))}
		for _, d := range r.dims {
			ser.Dimensions[t.dimPos[d.Name]] = d.Value
		}
		b.series = append(b.series, ser)
	}
	sr := eddysql.Row{Time: r.time, Series: s.id, Version: r.version, Seq: seq, Values: b.values(len(t.measures))}
	pos := t.measurePositions(r)
	for j, m := range r.measures {
		sr.Values[pos[j]] = sqlValue(m.Value)
	}
	if o == replaced {
		if old >= b.firstSeq {
			// The replaced row is in this batch: it is never published.
			for i := range b.rows {
				if b.rows[i].Seq == old {
					b.dead[i] = true
				}
			}
		} else {
			b.deletes = append(b.deletes, old)
		}
	}
	if r.time < t.movedCut {
		if d := dayStart(r.time); !slices.Contains(b.late, d) {
			b.late = append(b.late, d)
		}
	}
	b.add(sr, o == replaced)
	return o, 0
}

func sqlValue(v Value) any {
	switch v.Type {
	case Double:
		return v.F
	case BigInt:
		return v.I
	case Varchar:
		return v.S
	case Boolean:
		return v.B
	case Timestamp:
		return time.Unix(0, v.I).UTC()
	}
	return nil
}

// enqueue hands b to the publisher, in seq order (callers hold mu).
func (t *table) enqueue(b *pubBatch) { t.queue <- b }

// normalizers are the scratch space of writes: a write normalizes its records before
// it takes the table's lock, so concurrent writes share that work across cores.
var normalizers = sync.Pool{New: func() any { return new(normalizer) }}

// write is Service.Write for this table.
func (t *table) write(ctx context.Context, req *WriteRequest) (WriteResult, error) {
	var res WriteResult
	now := t.svc.now().UnixNano()
	st := t.settingsNow()
	memCut := now - int64(st.MemoryRetentionHours)*int64(time.Hour)
	magCut := now - int64(st.MagneticRetentionDays)*nanosPerDay
	future := now + int64(MaxFutureSkew)
	n := normalizers.Get().(*normalizer)
	defer normalizers.Put(n)
	n.reset()
	for i := range req.Records {
		r, rej := n.normalize(i, &req.Common, &req.Records[i])
		if rej == nil {
			rej = t.checkRow(i, &r, memCut, magCut, future, st)
		}
		if rej != nil {
			n.rejected = append(n.rejected, *rej)
			continue
		}
		n.rows = append(n.rows, r)
	}
	res.Rejected = append(res.Rejected, n.rejected...)

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return WriteResult{}, apierr.New(apierr.Unavailable, "TableClosed", "table %s.%s is closing", t.db, t.name)
	}
	if t.broken != nil {
		t.mu.Unlock()
		return WriteResult{}, apierr.New(apierr.Unavailable, "TableUnavailable",
			"table %s.%s takes no writes after its write-ahead log failed (%v); restart eddy to recover it from the log", t.db, t.name, t.broken)
	}
	files, err := t.magneticMatches(ctx, n.rows)
	if err != nil {
		t.mu.Unlock()
		return WriteResult{}, fmt.Errorf("write to %s.%s: %w", t.db, t.name, err)
	}
	b := &pubBatch{durable: make(chan struct{})}
	t.enc.reset()
	for k := range n.rows {
		r := &n.rows[k]
		if rej := t.checkSchema(r.index, r); rej != nil {
			res.Rejected = append(res.Rejected, *rej)
			continue
		}
		// Identity keys only when a late row has a match, which is rare.
		if fr, ok := files[lateKey(files, r)]; ok && !t.ix.has(r) {
			switch t.decideAgainstFile(r, fr) {
			case unchanged:
				res.Unchanged++
				continue
			case conflict:
				res.Rejected = append(res.Rejected, RejectedRecord{Index: r.index, Code: CodeVersionConflict, ExistingVersion: fr.Version,
					Reason: conflictReason(fr.Version, r.version)})
				continue
			}
		}
		o, existing := t.apply(b, r)
		switch o {
		case unchanged:
			res.Unchanged++
			continue
		case conflict:
			res.Rejected = append(res.Rejected, RejectedRecord{Index: r.index, Code: CodeVersionConflict, ExistingVersion: existing,
				Reason: conflictReason(existing, r.version)})
			continue
		}
		if r.time < memCut {
			res.Magnetic++
		} else {
			res.Memory++
		}
		t.enc.add(r)
	}
	slices.SortFunc(res.Rejected, func(a, b RejectedRecord) int { return a.Index - b.Index })
	if t.enc.rows == 0 {
		// Identical repeats are acknowledged once what they repeat is durable: the last
		// entry queued covers every earlier write.
		wait := t.lastWait
		t.mu.Unlock()
		if wait != nil && res.Unchanged > 0 {
			if err := wait(); err != nil {
				return WriteResult{}, fmt.Errorf("write to %s.%s: %w", t.db, t.name, err)
			}
		}
		return res, nil
	}
	pos, wait := t.wal.AppendAsync(t.enc.payload())
	t.lastWait = wait
	for i := range b.rows {
		t.noteSegment(pos.Segment, b.rows[i].Time)
	}
	t.enqueue(b)
	t.mu.Unlock()

	err = wait()
	b.err = err
	close(b.durable)
	if err != nil {
		// The index holds rows the log may not: a retry would be taken for an identical
		// repeat and acknowledged. The table refuses writes until a restart rebuilds it
		// from what the log does hold.
		t.mu.Lock()
		if t.broken == nil {
			t.broken = err
		}
		t.mu.Unlock()
		t.log.Error("write-ahead log failed: the table takes no more writes until eddy restarts", "err", err)
		return WriteResult{}, fmt.Errorf("write to %s.%s: %w", t.db, t.name, err)
	}
	return res, nil
}

// checkRow rejects a row outside the times the table takes.
func (t *table) checkRow(i int, r *row, memCut, magCut, future int64, st *Table) *RejectedRecord {
	switch {
	case r.time > future:
		return &RejectedRecord{Index: i, Code: CodeTooNew, Reason: fmt.Sprintf("time %s is more than %s ahead of the server's clock",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), MaxFutureSkew)}
	case r.time < magCut:
		return &RejectedRecord{Index: i, Code: CodeTooOld, Reason: fmt.Sprintf("time %s is older than the magnetic retention of %d days",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), st.MagneticRetentionDays)}
	case r.time < memCut && !st.MagneticWrites:
		return &RejectedRecord{Index: i, Code: CodeTooOld, Reason: fmt.Sprintf("time %s is older than the memory retention of %d hours and the table does not take late writes into the magnetic tier",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), st.MemoryRetentionHours)}
	}
	return nil
}

// checkSchema rejects a row whose columns conflict with the table's schema, and learns
// its new columns (in the catalog first, so that a logged row's columns are always
// known at replay).
func (t *table) checkSchema(i int, r *row) *RejectedRecord {
	if t.sameShape(r) {
		return nil
	}
	var fresh []Column
	for _, d := range r.dims {
		if _, ok := t.dimPos[d.Name]; ok {
			continue
		}
		if p, ok := t.measPos[d.Name]; ok {
			return typeConflict(i, MeasureColumn(d.Name, ColumnType(t.measures[p].Type)), DimensionColumn(d.Name))
		}
		fresh = append(fresh, DimensionColumn(d.Name))
	}
	for _, m := range r.measures {
		if p, ok := t.measPos[m.Name]; ok {
			if have := ColumnType(t.measures[p].Type); have != m.Value.Type {
				return typeConflict(i, MeasureColumn(m.Name, have), MeasureColumn(m.Name, m.Value.Type))
			}
			continue
		}
		if _, ok := t.dimPos[m.Name]; ok {
			return typeConflict(i, DimensionColumn(m.Name), MeasureColumn(m.Name, m.Value.Type))
		}
		fresh = append(fresh, MeasureColumn(m.Name, m.Value.Type))
	}
	if len(fresh) == 0 {
		return t.passed(r)
	}
	for j, c := range fresh {
		for _, d := range fresh[:j] {
			if d.Name != c.Name && strings.EqualFold(d.Name, c.Name) {
				return &RejectedRecord{Index: i, Code: CodeInvalidRecord, Reason: fmt.Sprintf(
					"columns %q and %q differ only in case; SQL does not tell them apart", d.Name, c.Name)}
			}
		}
		if other := t.sameNameInOtherCase(c.Name); other != "" {
			return &RejectedRecord{Index: i, Code: CodeInvalidRecord, Reason: fmt.Sprintf(
				"column %q differs from the table's column %q only in case; SQL does not tell them apart", c.Name, other)}
		}
	}
	if len(t.dims)+len(t.measures)+len(fresh) > MaxColumnsPerTable {
		return &RejectedRecord{Index: i, Code: CodeInvalidRecord, Reason: fmt.Sprintf("the table would have more than %d columns", MaxColumnsPerTable)}
	}
	if _, err := t.svc.Catalog.LearnColumns(t.db, t.name, fresh...); err != nil {
		var tc *TypeConflictError
		if errors.As(err, &tc) {
			return typeConflict(i, tc.Existing, tc.New)
		}
		return &RejectedRecord{Index: i, Code: apierr.CodeOf(err), Reason: err.Error()}
	}
	for _, c := range fresh {
		if c.Dimension {
			t.learnDim(c.Name)
		} else {
			t.learnMeasure(c.Name, c.Type)
		}
	}
	return t.passed(r)
}

// measurePositions returns the place of each of r's measures among the table's: those
// of the last row checkSchema passed (r itself, as apply follows checkSchema) when r has
// its shape.
func (t *table) measurePositions(r *row) []int {
	if len(t.shapePos) == len(r.measures) && sameMeasureNames(t.shapeMeasures, r.measures) {
		return t.shapePos
	}
	pos := make([]int, len(r.measures))
	for j, m := range r.measures {
		pos[j] = t.measPos[m.Name]
	}
	return pos
}

// sameNameInOtherCase returns the table's column whose name equals name but for case,
// or "".
func (t *table) sameNameInOtherCase(name string) string {
	for _, d := range t.dims {
		if d != name && strings.EqualFold(d, name) {
			return d
		}
	}
	for _, m := range t.measures {
		if m.Name != name && strings.EqualFold(m.Name, name) {
			return m.Name
		}
	}
	return ""
}

// sameShape reports whether r has the column names and types of the last row that
// passed checkSchema.
func (t *table) sameShape(r *row) bool {
	same := sameDimNames(t.shapeDims, r.dims) && sameMeasureNames(t.shapeMeasures, r.measures)
	for j := 0; same && j < len(r.measures); j++ {
		same = t.shapeTypes[j] == r.measures[j].Value.Type
	}
	return same
}

// passed remembers r's columns as the last that passed checkSchema.
func (t *table) passed(r *row) *RejectedRecord {
	t.shapeDims, t.shapeMeasures, t.shapeTypes = t.shapeDims[:0], t.shapeMeasures[:0], t.shapeTypes[:0]
	for _, d := range r.dims {
		t.shapeDims = append(t.shapeDims, d.Name)
	}
	t.shapePos = t.shapePos[:0]
	for _, m := range r.measures {
		t.shapeMeasures = append(t.shapeMeasures, m.Name)
		t.shapeTypes = append(t.shapeTypes, m.Value.Type)
		t.shapePos = append(t.shapePos, t.measPos[m.Name])
	}
	return nil
}

func typeConflict(i int, have, got Column) *RejectedRecord {
	return &RejectedRecord{Index: i, Code: CodeTypeConflict, Reason: fmt.Sprintf("column %q is %s; it cannot also be %s", have.Name, have, got)}
}

// publish is the goroutine moving accepted rows into the DuckDB memory table, in seq
// order, once the write-ahead log has them. It flushes the appender — which commits in
// DuckDB and costs milliseconds however few rows it carries — at most every
// publishInterval while rows keep coming, at once when someone waits for them
// (waitVisible), and when nothing else is queued and the interval has passed; so a row
// is queryable within about publishInterval of its acknowledgement.
func (t *table) publish() {
	defer close(t.pubDone)
	const publishInterval = 100 * time.Millisecond
	lastFlush := time.Now()
	dirty := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// dirty: rows appended but not flushed, or last points not merged yet.
	flush := func(force bool) {
		dirty = !t.flushPublished(force)
		lastFlush = time.Now()
	}
	for {
		var b *pubBatch
		var ok bool
		if dirty {
			timer.Reset(max(0, publishInterval-time.Since(lastFlush)))
			select {
			case b, ok = <-t.queue:
			case <-t.flushNow:
				flush(true)
				continue
			case <-timer.C:
				flush(false)
				continue
			}
		} else {
			select {
			case b, ok = <-t.queue:
			case <-t.flushNow:
				continue
			}
		}
		if !ok {
			if dirty {
				t.flushPublished(true)
			}
			return
		}
		<-b.durable
		if b.err == nil {
			t.memMu.Lock()
			err := t.publishBatch(b)
			t.memMu.Unlock()
			if err != nil {
				t.pubMu.Lock()
				t.pubErr = err
				t.pubCond.Broadcast()
				t.pubMu.Unlock()
				t.log.Error("memory tier: publish failed; the rows are durable and come back at the next start", "err", err)
			}
		}
		t.pubMu.Lock()
		if b.lastSeq > t.appended {
			t.appended = b.lastSeq
		}
		t.pubMu.Unlock()
		dirty = true
		if time.Since(lastFlush) >= publishInterval {
			flush(false)
		}
	}
}

// lastMergeInterval is how often, at most, a flush merges the latest rows into the
// last-point table while rows keep coming: a merge costs about as much for a hundred rows
// as for a whole interval's (it touches each series that got rows once), and merging at
// every flush took a fifth of the CPU of TSBS iot's ingest. Someone waiting for rows
// (waitVisible) makes the next flush merge at once.
const lastMergeInterval = time.Second

// flushPublished makes the appended rows visible and wakes waitVisible; when forced, or
// lastMergeInterval after the last merge, it also merges their series' latest rows into
// the last-point table. It reports whether the last points are up to date.
func (t *table) flushPublished(force bool) bool {
	t.pubMu.Lock()
	appended := t.appended
	t.pubMu.Unlock()
	t.memMu.Lock()
	err := t.mem.Flush()
	merged := len(t.lastDirty) == 0
	if err == nil && !merged && (force || time.Since(t.lastMergedAt) >= lastMergeInterval) {
		err = t.mergeLast()
		merged, t.lastMergedAt = err == nil, time.Now()
	}
	t.memMu.Unlock()
	t.pubMu.Lock()
	if err != nil && t.pubErr == nil {
		t.pubErr = err
	}
	t.visible = appended
	if merged {
		t.lastVisible = appended
	}
	t.pubCond.Broadcast()
	t.pubMu.Unlock()
	return merged || err != nil
}

func (t *table) publishBatch(b *pubBatch) error {
	if len(b.dims) > t.memDims || len(b.measures) > t.memMeasures {
		schema := eddysql.TableSchema{Database: t.db, Table: t.name, Dimensions: b.dims, Measures: b.measures}
		if err := t.mem.Evolve(context.Background(), schema, t.sqlMagnetic()); err != nil {
			return err
		}
		t.memDims, t.memMeasures = len(b.dims), len(b.measures)
	}
	newLate := false
	for _, d := range b.late {
		if !t.memLate[d] {
			t.memLate[d] = true
			newLate = true
		}
	}
	if newLate {
		// Before the late rows are visible, their days' files join the resolution.
		if err := t.mem.SetMagnetic(context.Background(), t.sqlMagnetic()); err != nil {
			return err
		}
	}
	var repl []eddysql.Row
	fresh := b.rows[:0:0]
	for i := range b.rows {
		switch {
		case b.dead[i]:
		case b.repl[i]:
			repl = append(repl, b.rows[i])
		default:
			fresh = append(fresh, b.rows[i])
		}
	}
	for i := range b.rows {
		if !b.dead[i] {
			t.noteLast(&b.rows[i])
		}
	}
	if err := t.mem.AppendSeries(b.series); err != nil {
		return err
	}
	if err := t.mem.Append(fresh); err != nil {
		return err
	}
	if len(repl) > 0 || len(b.deletes) > 0 {
		return t.mem.Replace(context.Background(), b.deletes, repl)
	}
	return nil
}

// noteLast records r, about to be published, as its series' latest row if it is not
// older than the latest so far (callers hold memMu).
func (t *table) noteLast(r *eddysql.Row) {
	sid := int(r.Series)
	for sid >= len(t.lastTime) {
		t.lastTime = append(t.lastTime, math.MinInt64)
		t.lastPend = append(t.lastPend, eddysql.Row{})
	}
	if r.Time < t.lastTime[sid] {
		return
	}
	t.lastTime[sid] = r.Time
	if t.lastPend[sid].Seq == 0 {
		t.lastDirty = append(t.lastDirty, r.Series)
	}
	t.lastPend[sid] = *r
}

// mergeLast brings the last-point table up to date with the rows published so far,
// which must be flushed (callers hold memMu).
func (t *table) mergeLast() error {
	if len(t.lastDirty) == 0 {
		return nil
	}
	rows := t.lastRows[:0]
	for _, sid := range t.lastDirty {
		rows = append(rows, t.lastPend[sid])
		t.lastPend[sid] = eddysql.Row{}
	}
	t.lastDirty = t.lastDirty[:0]
	err := t.mem.MergeLast(context.Background(), rows)
	clear(rows) // the rows' values belong to batches long published
	t.lastRows = rows[:0]
	return err
}

// waitVisible waits until every row accepted up to seq is queryable in DuckDB, in the
// table's view and its last-point view.
func (t *table) waitVisible(seq uint64) error {
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	for t.visible < seq || t.lastVisible < seq {
		if t.pubErr != nil {
			return t.pubErr
		}
		select {
		case t.flushNow <- struct{}{}:
		default:
		}
		t.pubCond.Wait()
	}
	return t.pubErr
}

// sync waits until everything written so far is queryable.
func (t *table) sync() error {
	t.mu.Lock()
	seq := t.seq
	t.mu.Unlock()
	return t.waitVisible(seq)
}

// update applies new settings from the catalog.
func (t *table) update(settings Table) { t.settings.Store(&settings) }

func (t *table) settingsNow() *Table { return t.settings.Load() }

// close stops the publisher after it has published everything and closes the log.
func (t *table) close() error { return t.shutdown(false) }

// shutdown is close; with drop it also removes the table's view and memory tables from
// DuckDB (after the publisher stopped, so nothing writes to them any more).
func (t *table) shutdown(drop bool) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.queue)
	t.mu.Unlock()
	<-t.pubDone
	err := t.wal.Close()
	t.memMu.Lock()
	defer t.memMu.Unlock()
	if drop {
		if derr := t.mem.Drop(context.Background()); err == nil {
			err = derr
		}
	}
	if cerr := t.mem.Close(); err == nil {
		err = cerr
	}
	return err
}
