//go:build !(linux || darwin)

package config

import (
	"fmt"
	"runtime"
)

// freeBytes is not implemented here; setting max-store avoids the call.
func freeBytes(string) (int64, error) {
	return 0, fmt.Errorf("free disk space is not measurable on %s; set max-store", runtime.GOOS)
}
