//go:build !unix

package nexmarkbench

import "time"

// cpuTime is unknown here: the report leaves CPU utilisation out.
func cpuTime() time.Duration { return 0 }
