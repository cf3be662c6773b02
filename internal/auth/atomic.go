package auth

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeSecretFile replaces path with data, readable by the owner only.
// A crash at any point leaves either the old file or the new one, never a
// truncated mix: the data goes to a temporary file in the same directory,
// is synced, renamed over path, and the directory is synced so the rename
// itself survives power loss.
func writeSecretFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// CreateTemp opens with mode 0600, so the secret is never visible to
	// others, not even before the rename.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
