package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docs/cost.md shows the event table as ops.go has it now.
func TestOpsDocIsFresh(t *testing.T) {
	path := filepath.Join("..", "..", OpsDocPath)
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := SpliceOpsDoc(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if want != string(doc) {
		t.Errorf("%s's ops table is stale: run `go generate ./internal/contract`", OpsDocPath)
	}
}

func TestOpsMarkdownHasEveryEvent(t *testing.T) {
	md := OpsMarkdown()
	for p, events := range Events {
		if !strings.Contains(md, "**"+p+"**") {
			t.Errorf("no table for %s", p)
		}
		for _, e := range events {
			if !strings.Contains(md, "| `"+e.Name+"` | "+e.Doc+" |") {
				t.Errorf("%s/%s missing from the table", p, e.Name)
			}
		}
	}
	if _, err := SpliceOpsDoc("no markers"); err == nil {
		t.Error("a doc without markers was accepted")
	}
}

// A hit point is one data point and no model call, and counts as none.
func TestHitPoints(t *testing.T) {
	if bad := checkHitPoints(); len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}
	for event, want := range map[string]int{EventMiss: 1, EventHitEdge: 0, EventHitStore: 0, EventMissShared: 0} {
		if got := CallPoints("edge-cache", event); got != want {
			t.Errorf("CallPoints(edge-cache, %s) = %d, want %d", event, got, want)
		}
	}
	if got := CallPoints("async-pipeline", EventBatchResult); got != 1 {
		t.Errorf("a batch result's point is a call: %d", got)
	}
}
