package tables

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables/wal"
)

// maxFilesPerPartition is how many files a partition may gather (one per tiering pass
// that found rows for it) before compaction merges them.
const maxFilesPerPartition = 8

// tier runs one tiering pass over t at time now: rows older than the memory retention
// move to the magnetic tier, partitions older than the magnetic retention are dropped,
// and partitions with too many files or with unresolved versions are compacted.
//
// Passes over one table run one at a time (tierMu), and only they change the manifest,
// so they read it without memMu; they take memMu only to install a new manifest and view,
// so the publisher goes on while they write Parquet files.
func (t *table) tier(ctx context.Context, now time.Time) error {
	t.tierMu.Lock()
	defer t.tierMu.Unlock()
	if t.tierErr != nil {
		return fmt.Errorf("tiering of %s.%s stopped until eddy restarts: %w", t.db, t.name, t.tierErr)
	}
	t.mu.Lock()
	st := t.settingsNow()
	// The boundary between the tiers never moves back: after the memory retention grows,
	// what was moved stays in the magnetic tier (and the manifest's cut stays valid for
	// replay); rows written below the boundary since are late writes.
	cut := max(now.UnixNano()-int64(st.MemoryRetentionHours)*int64(time.Hour), t.movedCut)
	maxSeq := t.seq
	walEnd := t.wal.End()
	days := t.ix.daysBefore(cut, maxSeq)
	if len(days) > 0 {
		t.movedCut = max(t.movedCut, cut)
	}
	t.mu.Unlock()
	if len(days) > 0 {
		if err := t.move(ctx, cut, maxSeq, walEnd, days); err != nil {
			return fmt.Errorf("move %s.%s to the magnetic tier: %w", t.db, t.name, err)
		}
	}
	if err := t.expire(ctx, now.UnixNano()-int64(st.MagneticRetentionDays)*nanosPerDay); err != nil {
		return fmt.Errorf("expire %s.%s: %w", t.db, t.name, err)
	}
	if err := t.compact(ctx); err != nil {
		return fmt.Errorf("compact %s.%s: %w", t.db, t.name, err)
	}
	return nil
}

// stopTiering records a failure after which the manifest on disk may differ from the
// one in memory, or the view from the manifest: further passes could then reuse a file
// name or move rows twice, so tiering stops until a restart rebuilds everything from
// the manifest and the log.
func (t *table) stopTiering(err error) error {
	t.tierErr = err
	t.log.Error("tiering stopped until eddy restarts", "err", err)
	return err
}

// move writes the memory rows older than cut and accepted up to maxSeq to one new
// Parquet file per day, then commits them with one manifest write, which also records
// that the write-ahead log before walEnd holds no row older than cut that is not in the
// magnetic tier. Only then do the rows leave the memory tier. A crash before the
// manifest write leaves orphan files (deleted at the next start) and the rows in the log;
// a crash after it leaves the rows in the log, where replay skips them.
func (t *table) move(ctx context.Context, cut int64, maxSeq uint64, walEnd wal.Pos, days []int64) error {
	if err := t.waitVisible(maxSeq); err != nil {
		return err
	}
	next := t.manifest.clone()
	var ranges []eddysql.TimeRange
	var written []string
	for _, day := range days {
		r := eddysql.TimeRange{From: day, To: min(day+nanosPerDay, cut)}
		part := partitionName(day)
		key := fileKey(t.db, t.name, part, next.NextFile)
		next.NextFile++
		e, err := t.writeFile(ctx, key, func(path string) (eddysql.ExportStats, error) {
			return t.mem.Export(ctx, r, maxSeq, path)
		})
		if err != nil {
			t.removeFiles(ctx, written)
			return err
		}
		ranges = append(ranges, r)
		if e.Rows == 0 {
			continue
		}
		written = append(written, key)
		p := next.Partitions[part]
		if p == nil {
			p = &partition{}
			next.Partitions[part] = p
		}
		// Files of regular passes cover successive time ranges; a file reaching back
		// into an earlier one's range carries late writes that may repeat an identity.
		if slices.ContainsFunc(p.Files, func(f fileEntry) bool { return f.MaxTime >= e.MinTime }) {
			p.Dirty = true
		}
		p.Files = append(p.Files, e)
	}
	// The last points (which hold every row up to maxSeq, visible) go to disk before the
	// manifest: what the manifest takes out of the write-ahead log's replay is in the file
	// a restart loads them from.
	t.memMu.Lock()
	err := t.mem.SaveLast(ctx, t.lastAt)
	t.memMu.Unlock()
	if err != nil {
		t.removeFiles(ctx, written)
		return err
	}
	t.svc.crashPoint("tiering-before-manifest")
	next.Moved.Cut, next.Moved.WAL = cut, walEnd
	if err := next.save(t.manifestAt); err != nil {
		// The new manifest may be on disk or not; its files stay (orphans are deleted at
		// the next start), and tiering stops.
		return t.stopTiering(err)
	}
	t.svc.crashPoint("tiering-after-manifest")
	t.memMu.Lock()
	t.manifest = next
	late := map[int64]bool{}
	// The rows published but not yet merged into the last-point table may be among
	// those about to leave the memory table.
	err = t.mem.Flush()
	if err == nil {
		err = t.mergeLast()
	}
	if err == nil {
		err = t.mem.Moved(ctx, ranges, maxSeq, cut, func(days []int64) eddysql.Magnetic {
			for _, d := range days {
				late[d] = true
			}
			return t.magnetic.sqlMagnetic(next, late)
		})
	}
	if err == nil {
		t.memLate = late
	}
	t.memMu.Unlock()
	if err != nil {
		// The rows are in both tiers until the next start, which replays without them.
		return t.stopTiering(fmt.Errorf("moved rows not dropped from the memory tier (they show twice until restart): %w", err))
	}
	t.mu.Lock()
	t.ix.removeBefore(cut, maxSeq)
	keep := walEnd.Segment
	for _, s := range t.wal.Segments() {
		if s >= walEnd.Segment || t.segMax[s] >= cut {
			keep = s
			break
		}
	}
	for s := range t.segMax {
		if s < keep {
			delete(t.segMax, s)
		}
	}
	t.mu.Unlock()
	if err := t.wal.RemoveSegmentsBefore(keep); err != nil {
		t.log.Warn("write-ahead log: old segments not removed", "err", err)
	}
	t.svc.metrics.movedRows.Add(sumRows(next, written))
	return nil
}

// writeFile stages a new file with write, publishes it under key and returns its
// manifest entry; an empty export writes nothing and returns zero Rows.
func (t *table) writeFile(ctx context.Context, key string, write func(path string) (eddysql.ExportStats, error)) (fileEntry, error) {
	staged, err := t.magnetic.stage(key)
	if err != nil {
		return fileEntry{}, err
	}
	st, err := write(staged)
	if err != nil || st.Rows == 0 {
		os.Remove(staged)
		return fileEntry{}, err
	}
	size, sum, err := t.magnetic.publish(ctx, key, staged)
	if err != nil {
		os.Remove(staged)
		return fileEntry{}, err
	}
	return fileEntry{Key: key, Rows: st.Rows, Bytes: size, MinTime: st.MinTime, MaxTime: st.MaxTime, Columns: st.Columns, SHA256: sum}, nil
}

func (t *table) removeFiles(ctx context.Context, keys []string) {
	for _, k := range keys {
		if err := t.magnetic.remove(ctx, k); err != nil {
			t.log.Warn("magnetic tier: file not removed; it is deleted at the next start", "file", k, "err", err)
		}
	}
}

func sumRows(m *manifest, keys []string) int64 {
	var n int64
	for _, p := range m.Partitions {
		for _, f := range p.Files {
			if slices.Contains(keys, f.Key) {
				n += f.Rows
			}
		}
	}
	return n
}

// expire drops the partitions that ended before cut.
func (t *table) expire(ctx context.Context, cut int64) error {
	next := t.manifest.clone()
	var gone []string
	end := int64(math.MinInt64) // the end of the latest partition dropped
	for name, p := range next.Partitions {
		day, err := partitionStart(name)
		if err != nil {
			return err
		}
		if day+nanosPerDay <= cut {
			for _, f := range p.Files {
				gone = append(gone, f.Key)
			}
			delete(next.Partitions, name)
			end = max(end, day+nanosPerDay)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	if err := t.commit(ctx, next); err != nil {
		return err
	}
	// A series whose latest row is older than the dropped partitions' end had every row
	// in them, unless that row is still in the memory tier (a memory retention longer than
	// the magnetic one): rows younger than the last move's cut are.
	t.memMu.Lock()
	err := t.mem.ExpireLast(ctx, min(end, t.manifest.Moved.Cut))
	t.memMu.Unlock()
	if err != nil {
		return err
	}
	t.removeFiles(ctx, gone)
	t.svc.metrics.expiredFiles.Add(int64(len(gone)))
	return nil
}

// compact merges the files of each partition that has too many, or that may hold an
// identity more than once, into one file with one row per identity.
func (t *table) compact(ctx context.Context) error {
	names := make([]string, 0, len(t.manifest.Partitions))
	for name, p := range t.manifest.Partitions {
		if p.Dirty || len(p.Files) > maxFilesPerPartition {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		next := t.manifest.clone()
		p := next.Partitions[name]
		var in []eddysql.File
		for _, f := range p.Files {
			in = append(in, eddysql.File{Path: t.magnetic.path(f.Key), Columns: f.Columns})
		}
		key := fileKey(t.db, t.name, name, next.NextFile)
		next.NextFile++
		e, err := t.writeFile(ctx, key, func(path string) (eddysql.ExportStats, error) {
			return t.mem.Compact(ctx, in, p.Dirty, path)
		})
		if err != nil {
			return err
		}
		old := make([]string, len(p.Files))
		for i, f := range p.Files {
			old[i] = f.Key
		}
		if e.Rows == 0 {
			delete(next.Partitions, name)
		} else {
			next.Partitions[name] = &partition{Files: []fileEntry{e}}
		}
		t.svc.crashPoint("compaction-before-manifest")
		if err := t.commit(ctx, next); err != nil {
			return err
		}
		t.removeFiles(ctx, old)
		t.svc.metrics.compactions.Add(1)
	}
	return nil
}

// commit saves next as the manifest and shows it in the view. Once the save is tried,
// no file it lists may be removed: a failure stops tiering (see stopTiering).
func (t *table) commit(ctx context.Context, next *manifest) error {
	if err := next.save(t.manifestAt); err != nil {
		return t.stopTiering(err)
	}
	t.memMu.Lock()
	defer t.memMu.Unlock()
	t.manifest = next
	if err := t.mem.SetMagnetic(ctx, t.sqlMagnetic()); err != nil {
		return t.stopTiering(fmt.Errorf("show the new magnetic files in the view: %w", err))
	}
	return nil
}
