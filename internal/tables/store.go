package tables

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/eddy-streams/eddy/internal/atomicfile"
)

// Store holds the catalog document (see the package documentation).
type Store interface {
	// Load returns the last document saved, or nil if none has been.
	Load() ([]byte, error)
	// Save replaces the document durably and atomically: once it returns nil, Load
	// returns data even after a crash; if it fails, Load returns the old document or data.
	Save(data []byte) error
}

// FileStore keeps the catalog in the file <dir>/tables/catalog.json.
type FileStore struct {
	dir  string
	path string
}

// NewFileStore returns the store of the catalog under the data directory dir. Nothing
// is created until the first Save.
func NewFileStore(dir string) *FileStore {
	d := filepath.Join(dir, "tables")
	return &FileStore{dir: d, path: filepath.Join(d, "catalog.json")}
}

// Path returns the file the catalog is kept in.
func (s *FileStore) Path() string { return s.path }

// Load reads the catalog file; a missing file is no document.
func (s *FileStore) Load() ([]byte, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	return data, nil
}

// Save replaces the catalog file. A crash at any point leaves the old file or the new
// one, never a mix: data goes to a temporary file in the same directory, which is synced
// and renamed over the catalog, and the directory is synced so the rename survives too.
func (s *FileStore) Save(data []byte) error {
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", s.dir, err)
		}
		// The new directory's entry must survive a crash as well as the file in it.
		if err := atomicfile.SyncDir(filepath.Dir(s.dir)); err != nil {
			return err
		}
	}
	return atomicfile.Write(s.path, data)
}

// MemStore keeps the catalog in memory, for tests. It is safe for concurrent use.
type MemStore struct {
	mu   sync.Mutex
	data []byte
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore { return &MemStore{} }

// Load returns a copy of the last document saved.
func (s *MemStore) Load() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data), nil
}

// Save keeps a copy of data.
func (s *MemStore) Save(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = slices.Clone(data)
	return nil
}
