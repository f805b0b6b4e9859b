package stack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// README's table of settings lists every setting of the table, once, with
// its patterns ("all" for every pattern).
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "| setting | patterns | default |\n|---|---|---|\n")
	if !ok {
		t.Fatal("README.md has no table of settings")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	listed := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 3 {
			t.Fatalf("README settings row %q", line)
		}
		listed[strings.Trim(cells[0], "| `")] = cells[1]
	}
	for _, st := range SettingsTable {
		patterns, ok := listed[st.Name]
		delete(listed, st.Name)
		want := strings.Join(st.Patterns, ", ")
		if slices.Equal(st.Patterns, Patterns) {
			want = "all"
		}
		if !ok || !strings.HasPrefix(patterns, want) {
			t.Errorf("README: setting %s listed %v with patterns %q, want %q", st.Name, ok, patterns, want)
		}
	}
	for name := range listed {
		t.Errorf("README lists %s, which is no setting", name)
	}
}
