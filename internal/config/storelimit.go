package config

import (
	"fmt"
	"os"
)

// StoreLimit returns the JetStream file store limit: MaxStore when set,
// otherwise 75% of the space available on the filesystem holding dir,
// measured now. The remaining quarter leaves room for the rest of the data
// dir and for other users of the disk. dir is created if missing because
// the server measures before anything has been written there.
func (c Config) StoreLimit(dir string) (int64, error) {
	if c.MaxStore > 0 {
		return int64(c.MaxStore), nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create %s to measure free disk space: %w", dir, err)
	}
	free, err := freeBytes(dir)
	if err != nil {
		return 0, fmt.Errorf("measure free disk space of %s: %w", dir, err)
	}
	limit := free / 4 * 3
	if limit <= 0 {
		return 0, fmt.Errorf("no free disk space on the filesystem holding %s; free some space or set max-store", dir)
	}
	return limit, nil
}
