package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
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

	mu       sync.Mutex
	settings Table
	layout   []eddysql.Column
	colPos   map[string]int
	ix       *index
	seq      uint64
	wal      *wal.Log
	enc      walEncoder
	norm     normalizer
	// segMax is the newest row time in each write-ahead log segment, which decides when
	// a segment holds nothing the memory tier still needs.
	segMax map[uint64]int64
	// movedCut is the cut of the latest move to the magnetic tier: a row older than it
	// is a late write, which the view resolves against the magnetic files.
	movedCut int64
	queue    chan *pubBatch
	closed   bool

	memMu     sync.Mutex
	mem       *eddysql.MemoryTable
	memLayout int
	manifest  *manifest
	// memLate holds the days where the memory table has late rows.
	memLate map[int64]bool

	pubMu   sync.Mutex
	pubCond *sync.Cond
	// appended is the last seq appended to DuckDB, visible the last seq flushed
	// (queryable); both only grow.
	appended, visible uint64
	pubErr            error
	pubDone           chan struct{}
}

// pubBatch is what one write accepted, on its way into the DuckDB memory table once the
// write-ahead log has it.
type pubBatch struct {
	lastSeq uint64
	// cols is the layout the rows were built with (a prefix of the table's, which only
	// grows at its end).
	cols []eddysql.Column
	rows []eddysql.Row
	// repl marks rows that replace a row of an earlier batch (deleted in the same
	// transaction); dead marks rows replaced within this batch, never published.
	repl, dead []bool
	deletes    []uint64
	// late holds the days of this batch's late rows.
	late     []int64
	firstSeq uint64
	durable  chan struct{}
	err      error
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
		settings:   settings,
		colPos:     map[string]int{},
		ix:         newIndex(),
		segMax:     map[uint64]int64{},
		queue:      make(chan *pubBatch, 256),
		pubDone:    make(chan struct{}),
		memLate:    map[int64]bool{},
	}
	t.pubCond = sync.NewCond(&t.pubMu)
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
		t.learn(eddysql.Column{Name: d, Dimension: true})
	}
	names := make([]string, 0, len(settings.Schema.Measures))
	for n := range settings.Schema.Measures {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.learn(eddysql.Column{Name: n, Type: string(settings.Schema.Measures[n])})
	}
	t.mem, err = s.engine.OpenMemoryTable(ctx, t.sqlSchema(), t.sqlMagnetic())
	if err != nil {
		return nil, err
	}
	t.memLayout = len(t.layout)
	t.wal, err = wal.Open(wal.Options{Dir: filepath.Join(dir, "wal"), Fsync: s.fsync})
	if err != nil {
		t.mem.Close()
		return nil, err
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

// learn adds c to the layout if it is new.
func (t *table) learn(c eddysql.Column) {
	if _, ok := t.colPos[c.Name]; ok {
		return
	}
	t.colPos[c.Name] = len(t.layout)
	t.layout = append(t.layout, c)
}

// sqlMagnetic describes the magnetic tier for the view (callers hold memMu).
func (t *table) sqlMagnetic() eddysql.Magnetic { return t.magnetic.sqlMagnetic(t.manifest, t.memLate) }

func (t *table) sqlSchema() eddysql.TableSchema {
	return eddysql.TableSchema{Database: t.db, Table: t.name, Columns: slices.Clone(t.layout)}
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
		if _, ok := t.colPos[d.Name]; !ok {
			t.learn(eddysql.Column{Name: d.Name, Dimension: true})
		}
	}
	for _, m := range r.measures {
		if _, ok := t.colPos[m.Name]; !ok {
			t.learn(eddysql.Column{Name: m.Name, Type: string(m.Value.Type)})
		}
	}
	return nil
}

// apply decides r against the index under a new seq and adds it to b. It returns the
// outcome and, for a conflict, the stored version.
func (t *table) apply(b *pubBatch, r *row) (outcome, int64) {
	seq := t.seq + 1
	o, old, existing := t.ix.upsert(r, seq)
	if o == unchanged || o == conflict {
		return o, existing
	}
	t.seq = seq
	if b.firstSeq == 0 {
		b.firstSeq = seq
	}
	b.lastSeq = seq
	b.cols = t.layout[:len(t.layout):len(t.layout)]
	sr := eddysql.Row{Time: r.time, MeasureName: r.measureName, Version: r.version, Seq: seq, Values: make([]any, len(t.layout))}
	for _, d := range r.dims {
		sr.Values[t.colPos[d.Name]] = d.Value
	}
	for _, m := range r.measures {
		sr.Values[t.colPos[m.Name]] = sqlValue(m.Value)
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

// write is Service.Write for this table.
func (t *table) write(ctx context.Context, req *WriteRequest) (WriteResult, error) {
	var res WriteResult
	now := t.svc.now().UnixNano()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return res, apierr.New(apierr.Unavailable, "TableClosed", "table %s.%s is closing", t.db, t.name)
	}
	st := t.settings
	memCut := now - int64(st.MemoryRetentionHours)*int64(time.Hour)
	magCut := now - int64(st.MagneticRetentionDays)*nanosPerDay
	future := now + int64(MaxFutureSkew)
	b := &pubBatch{durable: make(chan struct{})}
	t.enc.reset()
	for i := range req.Records {
		r, rej := t.norm.normalize(i, &req.Common, &req.Records[i])
		if rej == nil {
			rej = t.checkRow(i, &r, memCut, magCut, future, st.MagneticWrites)
		}
		if rej == nil {
			rej = t.checkSchema(i, &r)
		}
		if rej != nil {
			res.Rejected = append(res.Rejected, *rej)
			continue
		}
		o, existing := t.apply(b, &r)
		switch o {
		case unchanged:
			res.Unchanged++
			continue
		case conflict:
			res.Rejected = append(res.Rejected, RejectedRecord{Index: i, Code: CodeVersionConflict, ExistingVersion: existing,
				Reason: fmt.Sprintf("the record exists with other values at version %d; a replacement needs a higher version than %d", existing, r.version)})
			continue
		}
		if r.time < memCut {
			res.Magnetic++
		} else {
			res.Memory++
		}
		t.enc.add(&r)
	}
	if t.enc.rows == 0 {
		t.mu.Unlock()
		return res, nil
	}
	pos, wait := t.wal.AppendAsync(t.enc.payload())
	for i := range b.rows {
		t.noteSegment(pos.Segment, b.rows[i].Time)
	}
	t.enqueue(b)
	t.mu.Unlock()

	err := wait()
	b.err = err
	close(b.durable)
	if err != nil {
		return WriteResult{}, fmt.Errorf("write to %s.%s: %w", t.db, t.name, err)
	}
	return res, nil
}

// checkRow rejects a row outside the times the table takes.
func (t *table) checkRow(i int, r *row, memCut, magCut, future int64, magneticWrites bool) *RejectedRecord {
	switch {
	case r.time > future:
		return &RejectedRecord{Index: i, Code: CodeTooNew, Reason: fmt.Sprintf("time %s is more than %s ahead of the server's clock",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), MaxFutureSkew)}
	case r.time < magCut:
		return &RejectedRecord{Index: i, Code: CodeTooOld, Reason: fmt.Sprintf("time %s is older than the magnetic retention of %d days",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), t.settings.MagneticRetentionDays)}
	case r.time < memCut && !magneticWrites:
		return &RejectedRecord{Index: i, Code: CodeTooOld, Reason: fmt.Sprintf("time %s is older than the memory retention of %d hours and the table does not take late writes into the magnetic tier",
			time.Unix(0, r.time).UTC().Format(time.RFC3339Nano), t.settings.MemoryRetentionHours)}
	}
	return nil
}

// checkSchema rejects a row whose columns conflict with the table's schema, and learns
// its new columns (in the catalog first, so that a logged row's columns are always
// known at replay).
func (t *table) checkSchema(i int, r *row) *RejectedRecord {
	var fresh []Column
	for _, d := range r.dims {
		p, ok := t.colPos[d.Name]
		if !ok {
			fresh = append(fresh, DimensionColumn(d.Name))
		} else if c := t.layout[p]; !c.Dimension {
			return typeConflict(i, MeasureColumn(c.Name, ColumnType(c.Type)), DimensionColumn(d.Name))
		}
	}
	for _, m := range r.measures {
		p, ok := t.colPos[m.Name]
		if !ok {
			fresh = append(fresh, MeasureColumn(m.Name, m.Value.Type))
		} else if c := t.layout[p]; c.Dimension || ColumnType(c.Type) != m.Value.Type {
			have := MeasureColumn(c.Name, ColumnType(c.Type))
			if c.Dimension {
				have = DimensionColumn(c.Name)
			}
			return typeConflict(i, have, MeasureColumn(m.Name, m.Value.Type))
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if len(t.layout)+len(fresh) > MaxColumnsPerTable {
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
		t.learn(eddysql.Column{Name: c.Name, Dimension: c.Dimension, Type: string(c.Type)})
	}
	return nil
}

func typeConflict(i int, have, got Column) *RejectedRecord {
	return &RejectedRecord{Index: i, Code: CodeTypeConflict, Reason: (&TypeConflictError{Existing: have, New: got}).Error()}
}

// publish is the goroutine moving accepted rows into the DuckDB memory table, in seq
// order, once the write-ahead log has them. It flushes the appender when it has nothing
// else to do or every publishInterval, so a row is queryable well within a second of its
// acknowledgement.
func (t *table) publish() {
	defer close(t.pubDone)
	const publishInterval = 100 * time.Millisecond
	lastFlush := time.Now()
	dirty := false
	for {
		var b *pubBatch
		var ok bool
		if dirty {
			select {
			case b, ok = <-t.queue:
			default:
				t.flushPublished()
				dirty = false
				lastFlush = time.Now()
				b, ok = <-t.queue
			}
		} else {
			b, ok = <-t.queue
		}
		if !ok {
			if dirty {
				t.flushPublished()
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
			t.flushPublished()
			dirty = false
			lastFlush = time.Now()
		}
	}
}

// flushPublished makes the appended rows visible and wakes waitPublished.
func (t *table) flushPublished() {
	t.pubMu.Lock()
	appended := t.appended
	t.pubMu.Unlock()
	t.memMu.Lock()
	err := t.mem.Flush()
	t.memMu.Unlock()
	t.pubMu.Lock()
	if err != nil && t.pubErr == nil {
		t.pubErr = err
	}
	t.visible = appended
	t.pubCond.Broadcast()
	t.pubMu.Unlock()
}

func (t *table) publishBatch(b *pubBatch) error {
	if len(b.cols) > t.memLayout {
		schema := eddysql.TableSchema{Database: t.db, Table: t.name, Columns: b.cols}
		if err := t.mem.Evolve(context.Background(), schema, t.sqlMagnetic()); err != nil {
			return err
		}
		t.memLayout = len(b.cols)
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
	if err := t.mem.Append(fresh); err != nil {
		return err
	}
	if len(repl) > 0 || len(b.deletes) > 0 {
		return t.mem.Replace(context.Background(), b.deletes, repl)
	}
	return nil
}

// waitVisible waits until every row accepted up to seq is queryable in DuckDB.
func (t *table) waitVisible(seq uint64) error {
	t.pubMu.Lock()
	defer t.pubMu.Unlock()
	for t.visible < seq {
		if t.pubErr != nil {
			return t.pubErr
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
func (t *table) update(settings Table) {
	t.mu.Lock()
	t.settings = settings
	t.mu.Unlock()
}

// close stops the publisher after it has published everything and closes the log.
func (t *table) close() error {
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
	if cerr := t.mem.Close(); err == nil {
		err = cerr
	}
	t.memMu.Unlock()
	return err
}
