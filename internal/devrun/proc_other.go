//go:build !unix

package devrun

import (
	"os"
	"os/exec"
)

// Without process groups, only the runner itself is signalled; it disposes
// Miniflare, which stops workerd.
func ownGroup(cmd *exec.Cmd) {}

func terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func killGroup(pgid int) error { return nil }

func groupAlive(pgid int) bool { return false }

func processAlive(pid int) bool {
	_, err := os.FindProcess(pid)
	return err == nil
}
