package nodetool

import "testing"

func TestAtLeast(t *testing.T) {
	for v, want := range map[string]bool{
		"v22.12.0": true, "v22.23.3": true, "v23.0.0": true, "v22.11.9": false,
		"v20.20.2": false, "v100.0.0": true, "garbage": false, "v22": false,
	} {
		if got := atLeast(v, MinNode); got != want {
			t.Errorf("atLeast(%q) = %v, want %v", v, got, want)
		}
	}
}
