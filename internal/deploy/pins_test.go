package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var (
	pinnedRef  = regexp.MustCompile(`^[^@\s]+@[0-9a-f]{40}$`)
	versionTag = regexp.MustCompile(`^# v\d+(\.\d+){0,2}$`)
)

// unpinned lists a workflow's `uses:` that are not pinned: every action or
// reusable workflow from another repository must name a full commit SHA,
// with the version it is in a comment (`@<40 hex> # v1.2.3`), as GitHub's
// security hardening guide recommends for third-party actions (a tag can be
// moved; a commit cannot). A local action (./) is this repository's own.
func unpinned(name string, data []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var bad []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Value == "uses" && v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "./") {
					docker := strings.HasPrefix(v.Value, "docker://")
					ok := docker && strings.Contains(v.Value, "@sha256:") ||
						!docker && pinnedRef.MatchString(v.Value) && versionTag.MatchString(v.LineComment)
					if !ok {
						bad = append(bad, fmt.Sprintf("%s:%d: uses: %s %s", name, v.Line, v.Value, v.LineComment))
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return bad, nil
}

func TestWorkflowActionsArePinned(t *testing.T) {
	uses := 0
	for _, f := range workflowFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uses += strings.Count(string(data), "uses:")
		bad, err := unpinned(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bad {
			t.Errorf("%s: pin it to a commit with its version in a comment (uses: owner/repo@<40-hex sha> # vX.Y.Z)", b)
		}
	}
	if uses == 0 {
		t.Fatal("no uses: in the workflows: the check checked nothing")
	}
}

// The check fails on a tag, a branch, a short SHA and a SHA without its version.
func TestPinCheckCatchesUnpinned(t *testing.T) {
	const sha = "d23441a48e516b6c34aea4fa41551a30e30af803"
	wf := `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
      - uses: pulumi/actions@main
      - uses: actions/setup-go@d23441a
      - uses: actions/setup-node@` + sha + `
      - uses: actions/upload-artifact@` + sha + ` # v6.0.0
      - uses: ./.github/actions/local
      - uses: docker://alpine:3
  b:
    uses: org/repo/.github/workflows/w.yml@v1
`
	bad, err := unpinned("bad.yml", []byte(wf))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"actions/checkout@v6", "pulumi/actions@main", "actions/setup-go@d23441a", "actions/setup-node@" + sha, "docker://alpine:3", "org/repo/.github/workflows/w.yml@v1"}
	if len(bad) != len(want) {
		t.Fatalf("reported %d: %v; want %v", len(bad), bad, want)
	}
	for i, w := range want {
		if !strings.Contains(bad[i], "uses: "+w+" ") {
			t.Errorf("report %d %q, want %s", i, bad[i], w)
		}
	}
}
