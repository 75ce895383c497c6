package testchain

import "syscall"

// sysProcAttr puts geth in its own process group (so Stop can kill all of
// it) and has the kernel kill it if the test binary dies first, so no geth
// outlives a crashed test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
