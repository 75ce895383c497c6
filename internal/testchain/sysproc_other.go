//go:build !linux

package testchain

import "syscall"

// sysProcAttr puts geth in its own process group, so Stop can kill all of it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
