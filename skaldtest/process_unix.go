//go:build unix

package skaldtest

import (
	"os"
	"syscall"
)

// killGroup sends SIGKILL to every process of the group pgid.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
