//go:build unix

package deploy

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in a process group of its own, so that a
// terminal's Ctrl-C goes to zerocost only.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// interrupt asks the process to stop, as Ctrl-C does.
func interrupt(p *os.Process) error { return p.Signal(os.Interrupt) }
