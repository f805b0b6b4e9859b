package golden

import (
	"fmt"
	"strings"
)

// contextLines is how many unchanged lines a hunk shows around a change,
// as diff -u does.
const contextLines = 3

// maxCells bounds the LCS table (lines of want times lines of got, after the
// common head and tail are cut): beyond it Diff shows the differing middle
// whole, removed then added, rather than allocate more.
const maxCells = 4 << 20

// op is one line of an edit script: ' ' kept, '-' only in want, '+' only in got.
type op struct {
	kind byte
	line string
}

// Diff is a unified diff (diff -u) from want to got, labelled with the two
// names; "" when they are equal.
func Diff(wantName, gotName, want, got string) string {
	if want == got {
		return ""
	}
	a, b := splitLines(want), splitLines(got)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", wantName, gotName)
	writeHunks(&sb, script(a, b))
	return sb.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// script is the edit script from a to b: the common head and tail kept, the
// middle by a longest common subsequence of lines.
func script(a, b []string) []op {
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	var ops []op
	for _, l := range a[:head] {
		ops = append(ops, op{' ', l})
	}
	ops = append(ops, middle(a[head:len(a)-tail], b[head:len(b)-tail])...)
	for _, l := range a[len(a)-tail:] {
		ops = append(ops, op{' ', l})
	}
	return ops
}

// middle diffs two runs of lines that differ at both ends.
func middle(a, b []string) []op {
	var ops []op
	if len(a)*len(b) > maxCells {
		for _, l := range a {
			ops = append(ops, op{'-', l})
		}
		for _, l := range b {
			ops = append(ops, op{'+', l})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] > lcs[i+1][j]):
			ops = append(ops, op{'+', b[j]})
			j++
		default:
			ops = append(ops, op{'-', a[i]})
			i++
		}
	}
	return ops
}

// writeHunks prints the script's changes with contextLines of context,
// each hunk under its @@ -l,s +l,s @@ header.
func writeHunks(sb *strings.Builder, ops []op) {
	for start := 0; start < len(ops); {
		first := nextChange(ops, start)
		if first == len(ops) {
			return
		}
		from := max(first-contextLines, start)
		// The hunk runs until a stretch of more than 2*contextLines kept lines.
		end := first
		for end < len(ops) {
			next := nextChange(ops, end+1)
			if next == len(ops) || next-end > 2*contextLines {
				break
			}
			end = next
		}
		to := min(end+1+contextLines, len(ops))
		writeHunk(sb, ops, from, to)
		start = to
	}
}

func nextChange(ops []op, from int) int {
	for from < len(ops) && ops[from].kind == ' ' {
		from++
	}
	return from
}

func writeHunk(sb *strings.Builder, ops []op, from, to int) {
	aLine, bLine := 1, 1
	for _, o := range ops[:from] {
		if o.kind != '+' {
			aLine++
		}
		if o.kind != '-' {
			bLine++
		}
	}
	var aN, bN int
	for _, o := range ops[from:to] {
		if o.kind != '+' {
			aN++
		}
		if o.kind != '-' {
			bN++
		}
	}
	// An empty side names the line before it, as diff -u does.
	if aN == 0 {
		aLine--
	}
	if bN == 0 {
		bLine--
	}
	fmt.Fprintf(sb, "@@ -%d,%d +%d,%d @@\n", aLine, aN, bLine, bN)
	for _, o := range ops[from:to] {
		sb.WriteByte(o.kind)
		sb.WriteString(o.line)
		if !strings.HasSuffix(o.line, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}
