package skaldtest

import "syscall"

// sysProcAttr puts the process in a group of its own, and has the kernel
// kill it when its parent dies.
func sysProcAttr(group, dieWithParent bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: group}
	if dieWithParent {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}
