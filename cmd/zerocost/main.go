// Command zerocost renders, runs, verifies, prices and deploys AI products on
// Cloudflare Workers. See README.md.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/zerocost/zerocost/internal/cmd/root"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

func main() {
	f := cmdutil.New()
	cmd := root.NewCmd(f)
	err := root.Execute(cmd)
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") || strings.HasPrefix(msg, "unknown shorthand") {
			err = cmdutil.ConfigError(err)
		}
		fmt.Fprintln(f.IO.ErrOut, "zerocost:", msg)
	}
	os.Exit(cmdutil.ExitCode(err))
}
