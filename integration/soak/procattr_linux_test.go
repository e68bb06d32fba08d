package soak

import "syscall"

// childAttr makes the kernel kill a node or controller when the test
// binary dies, by a timeout's panic or a kill, so that none outlives it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
