//go:build unix && !linux

package skaldtest

import "syscall"

// sysProcAttr puts the process in a group of its own; only Linux can kill
// a child with its parent.
func sysProcAttr(group, _ bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: group}
}
