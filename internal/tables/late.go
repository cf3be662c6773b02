package tables

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	eddysql "github.com/eddy-streams/eddy/internal/sql"
)

// Late writes — rows older than the last move to the magnetic tier — may repeat or
// replace a row the index no longer holds because it moved. The write path looks such
// identities up in the magnetic files, so that a repeat is a no-op and a change without
// a higher version is a conflict there as in the memory tier.

// identityKey is a row's identity: measure name, dimensions (sorted by name) and time.
func identityKey(measureName string, dims []Dimension, t int64) string {
	var b strings.Builder
	b.WriteString(measureName)
	for _, d := range dims {
		b.WriteByte(0)
		b.WriteString(d.Name)
		b.WriteByte(0)
		b.WriteString(d.Value)
	}
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(t, 10))
	return b.String()
}

// lateKey is r's identity key when files (magneticMatches's answer) has any, else "".
func lateKey(files map[string]eddysql.FileRow, r *row) string {
	if len(files) == 0 {
		return ""
	}
	return identityKey(r.measureName, r.dims, r.time)
}

// has says whether the index holds r's identity.
func (ix *index) has(r *row) bool {
	s := ix.series[string(ix.seriesKey(r))]
	if s == nil {
		return false
	}
	_, found := slices.BinarySearch(s.times, r.time)
	return found
}

// magneticMatches returns, by identity key, the magnetic tier's rows with the identity
// of one of rows that is older than the last move and not in the index. Callers hold mu.
func (t *table) magneticMatches(ctx context.Context, rows []row) (map[string]eddysql.FileRow, error) {
	var ids []eddysql.Identity
	var days []int64
	for i := range rows {
		r := &rows[i]
		if r.time >= t.movedCut || t.ix.has(r) {
			continue
		}
		id := eddysql.Identity{MeasureName: r.measureName, Time: r.time, Dimensions: make([]string, len(t.dims))}
		for _, d := range r.dims {
			if pos, ok := t.dimPos[d.Name]; ok {
				id.Dimensions[pos] = d.Value
			}
		}
		ids = append(ids, id)
		if d := dayStart(r.time); !slices.Contains(days, d) {
			days = append(days, d)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// memMu keeps compaction and retention from removing the files while they are read.
	t.memMu.Lock()
	defer t.memMu.Unlock()
	var files []eddysql.File
	for _, d := range days {
		if p := t.manifest.Partitions[partitionName(d)]; p != nil {
			for _, f := range p.Files {
				files = append(files, eddysql.File{Path: t.magnetic.path(f.Key), Columns: f.Columns})
			}
		}
	}
	found, err := t.svc.engine.LookupFiles(ctx, t.sqlSchema(), files, ids)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	out := make(map[string]eddysql.FileRow, len(found))
	for _, fr := range found {
		var dims []Dimension
		for i, v := range fr.Dimensions {
			if v != "" {
				dims = append(dims, Dimension{Name: t.dims[i], Value: v})
			}
		}
		slices.SortFunc(dims, cmpDim)
		out[identityKey(fr.MeasureName, dims, fr.Time)] = fr
	}
	return out, nil
}

// decideAgainstFile decides r against fr, the row of its identity in the magnetic tier,
// as the index decides against a memory row: unchanged for a repeat, conflict for other
// values without a higher version, inserted otherwise (the new row replaces fr in the
// view by its version). Callers hold mu, after checkSchema passed r.
func (t *table) decideAgainstFile(r *row, fr eddysql.FileRow) outcome {
	same := true
	n := 0
	for _, v := range fr.Values {
		if v != nil {
			n++
		}
	}
	if n != len(r.measures) {
		same = false
	}
	for _, m := range r.measures {
		if !same {
			break
		}
		pos, ok := t.measPos[m.Name]
		same = ok && pos < len(fr.Values) && sameValue(m.Value, fr.Values[pos])
	}
	switch {
	case same && r.version <= fr.Version:
		return unchanged
	case r.version > fr.Version:
		return inserted
	}
	return conflict
}

// sameValue says whether v equals what the magnetic file holds.
func sameValue(v Value, stored any) bool {
	switch s := stored.(type) {
	case float64:
		return v.Type == Double && math.Float64bits(v.F) == math.Float64bits(s)
	case int64:
		return v.Type == BigInt && v.I == s
	case string:
		return v.Type == Varchar && v.S == s
	case bool:
		return v.Type == Boolean && v.B == s
	case time.Time:
		return v.Type == Timestamp && v.I == s.UnixNano()
	}
	return false
}

// conflictReason is the reason given for a version conflict with the stored version.
func conflictReason(existing, version int64) string {
	return fmt.Sprintf("the record exists with other values at version %d; a replacement needs a higher version than %d", existing, version)
}
