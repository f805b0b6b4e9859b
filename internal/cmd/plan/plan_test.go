package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/golden"
	"github.com/zerocost/zerocost/internal/plan/plantest"
)

// `zerocost plan --stack demo` as a user reads it: the text on stdout, the
// warnings on stderr. --json prints internal/plan's golden plan.
func TestDemoGolden(t *testing.T) {
	run := func(args ...string) (string, string) {
		io, out, errOut := cmdutil.Test()
		cmd := NewCmd(&cmdutil.Factory{IO: io, ProjectDir: plantest.ProjectDir()}, nil)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String(), errOut.String()
	}
	out, errOut := run("--stack", "demo")
	golden.Check(t, "demo.txt", []byte(out+"--- stderr\n"+errOut))

	js, _ := run("--stack", "demo", "--json")
	want, err := os.ReadFile(filepath.Join("..", "..", "plan", "testdata", "golden", "demo.plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got, exp any
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &exp); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(exp)
	if !bytes.Equal(a, b) {
		t.Errorf("--json differs from internal/plan's golden demo.plan.json:\n%s", golden.Diff("demo.plan.json", "--json", string(b), string(a)))
	}
}
