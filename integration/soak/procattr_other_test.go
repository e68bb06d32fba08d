//go:build !linux

package soak

import "syscall"

// childAttr: only Linux kills children with their parent.
func childAttr() *syscall.SysProcAttr { return nil }
