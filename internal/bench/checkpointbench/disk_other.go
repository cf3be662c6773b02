//go:build !linux

package checkpointbench

// fsType is not known outside Linux.
func fsType(string) (name string, inMemory bool) { return "unknown", false }

// memAvailable is not known outside Linux: no case is refused for memory there.
func memAvailable() (int64, bool) { return 0, false }
