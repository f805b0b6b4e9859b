package dev

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	initcmd "github.com/zerocost/zerocost/internal/cmd/init"
	"github.com/zerocost/zerocost/internal/cmd/verify"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
)

// A new user's first run: `zerocost init --stack mine --pattern edge-cache
// --product faq` in a project of their own, then `zerocost dev --stack mine`
// serves the product and `zerocost verify --local` (no --stack: the
// project's only stack file) passes against it.
func TestInitThenDevThenVerify(t *testing.T) {
	dir := cmdtest.Project(t, projectDir, "Pulumi.yaml")
	ios, _, _ := cmdutil.Test()
	ini := initcmd.NewCmd(&cmdutil.Factory{IO: ios, ProjectDir: dir}, func(o *initcmd.Options) error {
		o.StackInit = func(context.Context, string, string) (bool, error) { return false, nil } // no pulumi CLI
		return initcmd.Run(o)
	})
	ini.SetArgs([]string{"--stack", "mine", "--pattern", "edge-cache", "--product", "faq"})
	if err := ini.Execute(); err != nil {
		t.Fatalf("init: %v", err)
	}

	_, dataDir, stop := runDevIn(t, dir, map[string]string{}, "--stack", "mine", "--json")

	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut}, ProjectDir: dir}
	v := verify.NewCmd(f, func(o *verify.Options) error {
		o.StateFile = filepath.Join(dataDir, "dev", "mine.json")
		return verify.Run(o)
	})
	v.SetArgs([]string{"--local"})
	v.SetOut(out)
	v.SetErr(errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.ExecuteContext(ctx); err != nil {
		t.Fatalf("verify --local: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(errOut.String(), "using stack mine (the only Pulumi.<stack>.yaml in ") {
		t.Errorf("verify did not say which stack it picked: %s", errOut)
	}
	if !strings.Contains(out.String(), "faq") || !strings.Contains(out.String(), "0 failed") {
		t.Errorf("verify --local:\n%s", out)
	}
	t.Logf("verify --local:\n%s", out)
	if err := stop(); err != nil {
		t.Errorf("dev: %v", err)
	}
}
