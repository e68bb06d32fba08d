//go:build !unix

package skaldtest

import (
	"os"
	"syscall"
)

// No process groups here: Group has no effect.
func sysProcAttr(_, _ bool) *syscall.SysProcAttr { return nil }

func killGroup(int) {}

// terminate kills: there is no SIGTERM to send.
func terminate(p *os.Process) error { return p.Kill() }
