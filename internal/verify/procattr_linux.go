package verify

import "syscall"

// serverProcAttr has the kernel kill a server when the process that started it dies,
// so a verification that is itself killed (and never runs its deferred kills) leaves
// no server behind.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
