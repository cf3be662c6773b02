package tables

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/eddy-streams/eddy/internal/atomicfile"
	eddysql "github.com/eddy-streams/eddy/internal/sql"
	"github.com/eddy-streams/eddy/internal/tables/wal"
)

// manifestVersion is the version of a table's manifest document.
const manifestVersion = 1

// manifest is a table's magnetic tier and how far the memory tier has been moved into
// it. It is the commit point of every change to the magnetic tier: a Parquet file exists
// for queries only once the manifest lists it, and a file the manifest no longer lists is
// deleted. It lives beside the table's write-ahead log, at
// <data-dir>/tables/data/<database>/<table>/manifest.json.
type manifest struct {
	Version int `json:"version"`
	// NextFile numbers the next Parquet file; file names sort in the order written.
	NextFile uint64 `json:"nextFile"`
	// Moved says that every row in the write-ahead log before WAL older than Cut
	// (nanoseconds since the epoch) is in the magnetic tier: replay skips them.
	Moved struct {
		Cut int64   `json:"cut"`
		WAL wal.Pos `json:"wal"`
	} `json:"moved"`
	// Partitions are the UTC days, by their start in nanoseconds, formatted as the date.
	Partitions map[string]*partition `json:"partitions"`
}

// partition is one UTC day of a table's magnetic tier.
type partition struct {
	Files []fileEntry `json:"files"`
	// Dirty says an identity may be in several files (late writes after the partition
	// was first written): queries resolve versions over it until compaction.
	Dirty bool `json:"dirty,omitempty"`
}

// fileEntry is one Parquet file of a partition.
type fileEntry struct {
	// Key is the file's key in the bucket: <database>/<table>/date=<YYYY-MM-DD>/<n>.parquet.
	Key     string   `json:"key"`
	Rows    int64    `json:"rows"`
	Bytes   int64    `json:"bytes"`
	MinTime int64    `json:"minTime"`
	MaxTime int64    `json:"maxTime"`
	Columns []string `json:"columns"`
	SHA256  string   `json:"sha256"`
}

func loadManifest(path string) (*manifest, error) {
	m := &manifest{Version: manifestVersion, Partitions: map[string]*partition{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("read %s: manifest version %d; this eddy reads version %d", path, m.Version, manifestVersion)
	}
	if m.Partitions == nil {
		m.Partitions = map[string]*partition{}
	}
	return m, nil
}

func (m *manifest) save(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

func (m *manifest) clone() *manifest {
	c := *m
	c.Partitions = make(map[string]*partition, len(m.Partitions))
	for k, p := range m.Partitions {
		cp := *p
		cp.Files = slices.Clone(p.Files)
		c.Partitions[k] = &cp
	}
	return &c
}

// partitionName is the name of the UTC day starting at day (nanoseconds).
func partitionName(day int64) string { return time.Unix(0, day).UTC().Format("2006-01-02") }

// partitionStart is partitionName's inverse: the start of the day, in nanoseconds.
func partitionStart(name string) (int64, error) {
	day, err := time.Parse("2006-01-02", name)
	if err != nil {
		return 0, fmt.Errorf("partition %q: %w", name, err)
	}
	return day.UnixNano(), nil
}

// magneticStore is where a table's Parquet files live: a bucket, and a local directory
// DuckDB reads them from. With a file:// bucket under the data directory the two are the
// same files; with any other bucket the local directory is a cache holding a copy of
// every file the manifest lists (so the cache is as large as the magnetic tier: a
// simplification, not a bounded cache).
type magneticStore struct {
	bucket *blob.Bucket
	// local is the directory where key k is the file local/k.
	local string
	// direct is true when local is the bucket's own directory.
	direct bool
}

// path returns the local path of key.
func (s *magneticStore) path(key string) string {
	return filepath.Join(s.local, filepath.FromSlash(key))
}

// stage returns a local path to write a new file for key to before publish.
func (s *magneticStore) stage(key string) (string, error) {
	p := s.path(key) + ".tmp"
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// publish moves the staged file of key into place (the bucket, and the cache) and
// returns its size and SHA-256.
func (s *magneticStore) publish(ctx context.Context, key, staged string) (int64, string, error) {
	// The file's data reaches the disk before the manifest can list it.
	f, err := os.Open(staged)
	if err != nil {
		return 0, "", err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return 0, "", fmt.Errorf("sync %s: %w", staged, err)
	}
	size, sum, err := fileSum(staged)
	if err != nil {
		return 0, "", err
	}
	if !s.direct {
		f, err := os.Open(staged)
		if err != nil {
			return 0, "", err
		}
		err = s.bucket.Upload(ctx, key, f, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
		f.Close()
		if err != nil {
			return 0, "", fmt.Errorf("upload %s: %w", key, err)
		}
	}
	if err := os.Rename(staged, s.path(key)); err != nil {
		return 0, "", err
	}
	return size, sum, atomicfile.SyncDir(filepath.Dir(s.path(key)))
}

// fetch makes sure the local copy of e exists and is intact, downloading it when the
// cache lacks it. A file whose checksum does not match is an errCorrupt.
func (s *magneticStore) fetch(ctx context.Context, e fileEntry) error {
	p := s.path(e.Key)
	_, sum, err := fileSum(p)
	switch {
	case err == nil && sum == e.SHA256:
		return nil
	case err == nil && s.direct:
		return &corruptError{key: e.Key, why: "its SHA-256 does not match the manifest's"}
	case errors.Is(err, os.ErrNotExist) && s.direct:
		return &corruptError{key: e.Key, why: "the file is missing"}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		// Not a sign of corruption (permissions, too many open files): no quarantine.
		return fmt.Errorf("check magnetic file %s: %w", e.Key, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	r, err := s.bucket.NewReader(ctx, e.Key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return &corruptError{key: e.Key, why: "missing from the bucket"}
		}
		return fmt.Errorf("download %s: %w", e.Key, err)
	}
	defer r.Close()
	tmp := p + ".download"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
		f.Close()
		return fmt.Errorf("download %s: %w", e.Key, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		os.Remove(tmp)
		return &corruptError{key: e.Key, why: "its SHA-256 in the bucket does not match the manifest's"}
	}
	return os.Rename(tmp, p)
}

// remove deletes key from the bucket and the cache; a missing file is not an error.
func (s *magneticStore) remove(ctx context.Context, key string) error {
	if !s.direct {
		if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("delete %s: %w", key, err)
		}
	}
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// quarantinePrefix holds corrupt files; '@' is in no database name, so no table's keys
// start with it.
const quarantinePrefix = "@quarantine/"

// quarantine moves a corrupt file out of the table's key space, so it is kept for
// inspection but never read: to @quarantine/<key> in the bucket and the local directory.
func (s *magneticStore) quarantine(ctx context.Context, key string) error {
	q := quarantinePrefix + key
	if !s.direct {
		if err := s.bucket.Copy(ctx, q, key, nil); err == nil {
			_ = s.bucket.Delete(ctx, key)
		}
	}
	dst := s.path(q)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.Rename(s.path(key), dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// list returns the keys under prefix in the local directory and, for a remote bucket, in
// the bucket (files a crash left behind are found in either).
func (s *magneticStore) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	root := s.path(prefix)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(s.local, p)
			if err != nil {
				return err
			}
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !s.direct {
		it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if !slices.Contains(keys, o.Key) {
				keys = append(keys, o.Key)
			}
		}
	}
	return keys, nil
}

// corruptError is a magnetic file that cannot be served.
type corruptError struct{ key, why string }

func (e *corruptError) Error() string {
	return fmt.Sprintf("magnetic file %s is corrupt: %s", e.key, e.why)
}

func fileSum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// sqlMagnetic describes m's files for the view; late holds the days (starts in
// nanoseconds) where the memory tier has rows older than m's cut.
func (s *magneticStore) sqlMagnetic(m *manifest, late map[int64]bool) eddysql.Magnetic {
	out := eddysql.Magnetic{Late: len(late) > 0, LateCut: m.Moved.Cut}
	lateNames := map[string]bool{}
	for d := range late {
		lateNames[partitionName(d)] = true
	}
	names := make([]string, 0, len(m.Partitions))
	for n := range m.Partitions {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := m.Partitions[n]
		for _, f := range p.Files {
			ef := eddysql.File{Path: s.path(f.Key), Columns: f.Columns}
			if p.Dirty || lateNames[n] {
				out.Dirty = append(out.Dirty, ef)
			} else {
				out.Clean = append(out.Clean, ef)
			}
		}
	}
	return out
}

// fileKey is the key of file n of a table's partition.
func fileKey(db, table, part string, n uint64) string {
	return strings.Join([]string{db, table, "date=" + part, fmt.Sprintf("%012d.parquet", n)}, "/")
}
