package golden

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	if d := Diff("w", "g", "a\nb\n", "a\nb\n"); d != "" {
		t.Errorf("equal texts: %q", d)
	}
	want := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	got := "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n"
	exp := `--- w
+++ g
@@ -2,7 +2,7 @@
 2
 3
 4
-5
+five
 6
 7
 8
@@ -10,3 +10,4 @@
 10
 11
 12
+13
`
	if d := Diff("w", "g", want, got); d != exp {
		t.Errorf("got\n%s\nwant\n%s", d, exp)
	}
	if d := Diff("w", "g", "", "x"); d != "--- w\n+++ g\n@@ -0,0 +1,1 @@\n+x\n\\ No newline at end of file\n" {
		t.Errorf("from empty: %q", d)
	}
}

// Applying Diff's hunks to want gives got, for random edits; the hunks
// count their lines right.
func TestDiffApplies(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 500 {
		want, got := randomText(r), randomText(r)
		if d := Diff("w", "g", want, got); apply(t, want, d) != got {
			t.Fatalf("case %d: want %q got %q diff\n%s", n, want, got, d)
		}
	}
}

// apply is patch(1) for Diff's output (texts that end in a newline).
func apply(t *testing.T, text, diff string) string {
	src := splitLines(text)
	var out []string
	at := 0 // lines of src consumed
	lines := splitLines(diff)
	for i := 2; i < len(lines); {
		var a, an, b, bn int
		if _, err := fmt.Sscanf(lines[i], "@@ -%d,%d +%d,%d @@", &a, &an, &b, &bn); err != nil {
			t.Fatalf("bad hunk header %q", lines[i])
		}
		if an == 0 {
			a++
		}
		out = append(out, src[at:a-1]...)
		at = a - 1
		i++
		for ; i < len(lines) && lines[i][0] != '@'; i++ {
			switch l := lines[i][1:]; lines[i][0] {
			case ' ':
				an, bn = an-1, bn-1
				out, at = append(out, l), at+1
			case '-':
				an, at = an-1, at+1
			case '+':
				bn, out = bn-1, append(out, l)
			}
		}
		if an != 0 || bn != 0 {
			t.Fatalf("hunk counts off by %d, %d", an, bn)
		}
	}
	return strings.Join(append(out, src[at:]...), "")
}

func randomText(r *rand.Rand) string {
	var sb strings.Builder
	for range r.IntN(30) {
		fmt.Fprintf(&sb, "%d\n", r.IntN(6))
	}
	return sb.String()
}
