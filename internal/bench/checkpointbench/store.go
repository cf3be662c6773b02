package checkpointbench

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkpointBase picks the directory the checkpoint directories go under and names its
// file system. The default is the system temp dir, unless that is in memory (tmpfs),
// where a write costs a copy instead of disk IO and the checkpoints would take memory
// the job needs: then the user cache dir.
func checkpointBase(dir string) (string, string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("make checkpoint dir: %w", err)
		}
		name, _ := fsType(dir)
		return dir, name, nil
	}
	dir = os.TempDir()
	name, inMemory := fsType(dir)
	if !inMemory {
		return dir, name, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return dir, name, nil
	}
	cache = filepath.Join(cache, "eddy")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return dir, name, nil
	}
	if cname, cmem := fsType(cache); !cmem {
		return cache, cname, nil
	}
	return dir, name, nil
}
