package cmdutil

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// project makes a project folder with a Pulumi.<name>.yaml for each stack.
func project(t *testing.T, stacks ...string) string {
	t.Helper()
	dir := t.TempDir()
	files := append([]string{"Pulumi.yaml"}, stacks...)
	for i, n := range files {
		if i > 0 {
			n = "Pulumi." + n + ".yaml"
		}
		if err := os.WriteFile(filepath.Join(dir, n), []byte("config: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func selected(name string, err error) func(context.Context, string) (string, error) {
	return func(context.Context, string) (string, error) { return name, err }
}

// run runs a command with the stack flag of use and returns the stack it ran on.
func run(t *testing.T, f *Factory, use StackUse, args ...string) (string, string, error) {
	t.Helper()
	ios, _, errOut := Test()
	f.IO = ios
	var got string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	f.AddStackFlag(cmd, &got, use)
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	err := cmd.Execute()
	return got, errOut.String(), err
}

func TestStackSelection(t *testing.T) {
	noPulumi := errors.New("no stack selected; please use `pulumi stack select`")
	for name, c := range map[string]struct {
		stacks   []string
		selected func(context.Context, string) (string, error)
		use      StackUse
		args     []string
		want     string // stack, or "" for an error
		says     []string
	}{
		"--stack wins over the selection":           {[]string{"a", "b"}, selected("b", nil), Deployed, []string{"--stack", "a"}, "a", nil},
		"--stack names a stack without a file":      {nil, nil, Deployed, []string{"--stack", "prod"}, "prod", nil},
		"selected in Pulumi, deployed":              {[]string{"a", "b"}, selected("b", nil), Deployed, nil, "b", []string{"using stack b (selected in Pulumi)"}},
		"selected in Pulumi, local":                 {[]string{"a"}, selected("mine", nil), Local, nil, "mine", []string{"using stack mine (selected in Pulumi)"}},
		"the only stack file, local":                {[]string{"mine"}, nil, Local, nil, "mine", []string{"using stack mine (the only Pulumi.<stack>.yaml in "}},
		"the only stack file, none selected, local": {[]string{"mine"}, selected("", noPulumi), Local, nil, "mine", []string{"using stack mine"}},
		"the only stack file is not enough to deploy": {[]string{"mine"}, nil, Deployed, nil, "",
			[]string{"no stack given: pass --stack NAME or select one with `pulumi stack select NAME`", "stacks found: mine"}},
		"two stacks, none selected, deployed": {[]string{"dev", "prod"}, selected("", noPulumi), Deployed, nil, "",
			[]string{"stacks found: dev, prod", "pulumi stack select", "(pulumi: no stack selected"}},
		"two stacks, local":            {[]string{"dev", "prod"}, nil, Local, nil, "", []string{"no stack given: pass --stack NAME; stacks found: dev, prod"}},
		"no stack files":               {nil, nil, Local, nil, "", []string{"holds no Pulumi.<stack>.yaml", "zerocost init --stack NAME"}},
		"--local flag off is deployed": {[]string{"mine"}, nil, LocalWhen(new(bool)), nil, "", []string{"stacks found: mine"}},
	} {
		t.Run(name, func(t *testing.T) {
			f := &Factory{ProjectDir: project(t, c.stacks...), SelectedStack: c.selected}
			got, errOut, err := run(t, f, c.use, c.args...)
			if c.want == "" {
				if err == nil {
					t.Fatalf("ran on stack %q, want an error", got)
				}
				if ExitCode(err) != ExitUsage {
					t.Errorf("exit code %d, want %d", ExitCode(err), ExitUsage)
				}
				for _, s := range c.says {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("stack %q, %v; want %q", got, err, c.want)
			}
			if c.says == nil && errOut != "" {
				t.Errorf("a named stack needs no note, said %q", errOut)
			}
			for _, s := range c.says {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr %q does not say %q", errOut, s)
				}
			}
		})
	}
}

// PulumiSelected runs the pulumi CLI it finds on PATH in the project folder.
func TestPulumiSelected(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the fake pulumi is a shell script")
	}
	dir := project(t)
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if name, err := PulumiSelected(context.Background(), dir); name != "" || err != nil {
		t.Fatalf("without a pulumi CLI: %q, %v; want nothing", name, err)
	}
	script := "#!/bin/sh\n[ \"$1 $2 $3\" = 'stack --show-name --non-interactive' ] || exit 3\n" +
		"if [ -f selected ]; then read -r l < selected; echo $l; else echo 'error: no stack selected; please use `pulumi stack select`' >&2; exit 255; fi\n"
	if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if name, err := PulumiSelected(context.Background(), dir); name != "" || err == nil || !strings.HasPrefix(err.Error(), "no stack selected") {
		t.Fatalf("none selected: %q, %v; want pulumi's message", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "selected"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if name, err := PulumiSelected(context.Background(), dir); name != "mine" || err != nil {
		t.Fatalf("selected: %q, %v; want mine", name, err)
	}
}

// A PreRun the command sets after the flag still runs, after the stack is picked.
func TestStackFlagKeepsPreRun(t *testing.T) {
	f := &Factory{ProjectDir: project(t, "mine")}
	ios, _, _ := Test()
	f.IO = ios
	var stackName, seen string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	f.AddStackFlag(cmd, &stackName, Local)
	cmd.PreRun = func(*cobra.Command, []string) { seen = stackName }
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil || seen != "mine" {
		t.Fatalf("PreRun saw stack %q (%v), want mine", seen, err)
	}
}
