//go:build unix

package devrun

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownGroup puts the runner in a process group of its own: workerd, its child,
// joins it, so one signal to the group reaches both, and a Ctrl-C in the
// terminal reaches only zerocost, which then stops the group in order.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks the runner (only) to stop: it disposes Miniflare, which stops workerd.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// killGroup kills every process left in the runner's group.
func killGroup(pgid int) error {
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// groupAlive reports whether any process of the group is left.
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
