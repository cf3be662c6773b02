package tablesbench

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// tier moves the clock past the memory retention and runs one tiering pass, which moves
// every row of ds to the magnetic tier; then it measures the Parquet files.
func (e *env) tier(ctx context.Context, ds DataSet) (Tiering, error) {
	before := e.svc.Stats().MovedRows
	// The rollup's rows move too; they are not the data set's.
	derived, err := e.derivedRows(ctx, ds)
	if err != nil {
		return Tiering{}, err
	}
	e.clock.Set(e.tcfg.Start.Add(e.tcfg.Duration + time.Duration(e.retention)*time.Hour + time.Minute))
	start := time.Now()
	if err := e.svc.Tier(ctx); err != nil {
		return Tiering{}, fmt.Errorf("tier: %w", err)
	}
	elapsed := time.Since(start)
	t := Tiering{MovedRows: e.svc.Stats().MovedRows - before - derived, Seconds: elapsed.Seconds()}
	t.RowsPerSec = float64(t.MovedRows) / t.Seconds
	if t.MovedRows != ds.StoredRows {
		return t, fmt.Errorf("tiering moved %d rows; the memory tier held %d", t.MovedRows, ds.StoredRows)
	}
	after, err := e.describe(ctx)
	if err != nil {
		return t, err
	}
	if after.StoredRows != ds.StoredRows || after.StoredValues != ds.StoredValues {
		return t, fmt.Errorf("after tiering the tables hold %d rows and %d values; before, %d and %d",
			after.StoredRows, after.StoredValues, ds.StoredRows, ds.StoredValues)
	}
	for _, td := range ds.Tables {
		files, bytes, err := parquetSize(filepath.Join(e.dir, "tables", "magnetic", Database, td.Name))
		if err != nil {
			return t, err
		}
		t.Tables = append(t.Tables, TableFiles{Name: td.Name, Files: files, Bytes: bytes, Values: td.Values,
			BytesPerValue: ratio(float64(bytes), float64(td.Values))})
		t.Files += files
		t.Bytes += bytes
	}
	t.BytesPerValue = ratio(float64(t.Bytes), float64(ds.StoredValues))
	return t, nil
}

// derivedRows counts the rows of the tables in the bench database that ds does not
// describe: the rollup's.
func (e *env) derivedRows(ctx context.Context, ds DataSet) (int64, error) {
	ts, err := e.svc.ListTables(Database)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, t := range ts {
		if slices.ContainsFunc(ds.Tables, func(td TableData) bool { return td.Name == t.Name }) {
			continue
		}
		var rows int64
		if err := e.eng.DB().QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s.%s", Database, t.Name)).Scan(&rows); err != nil {
			return 0, fmt.Errorf("count %s: %w", t.Name, err)
		}
		n += rows
	}
	return n, nil
}

// parquetSize counts the Parquet files under dir and their bytes.
func parquetSize(dir string) (files int, bytes int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files++
		bytes += info.Size()
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("measure the magnetic files under %s: %w", dir, err)
	}
	return files, bytes, nil
}
