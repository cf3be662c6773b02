//go:build linux || darwin

package config

import (
	"math"
	"syscall"
)

// freeBytes returns the bytes an unprivileged process may still write on
// the filesystem holding dir. It counts available blocks (Bavail), not free
// ones, because blocks reserved for root are of no use to eddy.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	avail, bsize := uint64(st.Bavail), uint64(st.Bsize)
	if bsize != 0 && avail > math.MaxInt64/bsize {
		return math.MaxInt64, nil
	}
	return int64(avail * bsize), nil
}
