package devrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Extra Workers (tests and benchmarks only) get the bindings they name, the
// products' compatibility date, free ports, and no secrets.
func TestExtraWorkers(t *testing.T) {
	products := []runnerWorker{{Name: "pipe-dev", Options: workerOptions{CompatibilityDate: "2026-06-01"}}}
	script := filepath.Join(t.TempDir(), "x.js")
	if err := os.WriteFile(script, []byte("export default {}"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := extraWorkers([]ExtraWorker{{
		Name: "inspector", Script: script, Vars: map[string]string{"A": "1"},
		R2Buckets:      map[string]string{"R2_out": "pipe-dev-outputs"},
		QueueProducers: map[string]string{"Q": "pipe-dev-jobs"},
	}}, products)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%+v", got)
	}
	w := got[0]
	if w.Name != "inspector" || w.Script != script || w.Port != 0 || len(w.Secrets) != 0 || w.Options.CompatibilityDate != "2026-06-01" ||
		w.Options.Bindings["A"] != "1" || w.Options.R2Buckets["R2_out"] != "pipe-dev-outputs" ||
		w.Options.QueueProducers["Q"].QueueName != "pipe-dev-jobs" || w.Options.QueueConsumers != nil {
		t.Errorf("%+v", w)
	}
	if got, err := extraWorkers(nil, products); err != nil || got != nil {
		t.Errorf("none: %v %v", got, err)
	}
	for _, bad := range []struct {
		e    ExtraWorker
		want string
	}{
		{ExtraWorker{Name: "pipe-dev", Script: script}, "taken"},
		{ExtraWorker{Name: "x"}, "required"},
		{ExtraWorker{Name: "x", Script: script + ".missing"}, "no such file"},
	} {
		if _, err := extraWorkers([]ExtraWorker{bad.e}, products); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want %q", bad.e, err, bad.want)
		}
	}
	if _, err := extraWorkers([]ExtraWorker{{Name: "a", Script: script}, {Name: "a", Script: script}}, products); err == nil {
		t.Error("two extras with one name")
	}
}
