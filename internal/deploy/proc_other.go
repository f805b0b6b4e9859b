//go:build !unix

package deploy

import (
	"os"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

// interrupt stops the process: without Unix signals there is no gentler way.
func interrupt(p *os.Process) error { return p.Kill() }
