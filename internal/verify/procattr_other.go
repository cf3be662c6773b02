//go:build !linux

package verify

import "syscall"

// serverProcAttr is nil where the kernel cannot kill a server with its parent: a
// verification that is killed itself leaves its last server running.
func serverProcAttr() *syscall.SysProcAttr { return nil }
