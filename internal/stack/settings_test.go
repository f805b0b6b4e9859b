package stack

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The table and the Settings struct name the same settings, each once, and
// every row's default, range and values fit its field.
func TestSettingsTableIsTheStruct(t *testing.T) {
	var names []string
	for _, st := range SettingsTable {
		names = append(names, st.Name)
		ft := st.field(&Settings{}).Type()
		if st.Default != nil && reflect.TypeOf(st.Default) != ft {
			t.Errorf("%s: default of type %T for a field of type %s", st.Name, st.Default, ft)
		}
		if (st.Range != nil || st.ByPattern != nil) && ft.Kind() != reflect.Int {
			t.Errorf("%s: a range on a field of type %s", st.Name, ft)
		}
		if st.OneOf != nil && ft.Kind() != reflect.String {
			t.Errorf("%s: values listed for a field of type %s", st.Name, ft)
		}
		if len(st.Patterns) == 0 {
			t.Errorf("%s: no pattern has it", st.Name)
		}
		for _, r := range append(rangesOf(st), Range{}) {
			if r != (Range{}) && (r.Why == "" || r.Source == "") {
				t.Errorf("%s: range %d..%d without its reason and source", st.Name, r.Min, r.Max)
			}
		}
	}
	if got, want := slices.Sorted(slices.Values(names)), settingsKeys; !slices.Equal(got, want) {
		t.Errorf("table %v\nstruct %v", got, want)
	}
}

func rangesOf(st Setting) []Range {
	var out []Range
	if st.Range != nil {
		out = append(out, *st.Range)
	}
	for _, r := range st.ByPattern {
		out = append(out, r)
	}
	return out
}

// Every default is a valid value, so a product that sets nothing passes.
func TestDefaultsAreValid(t *testing.T) {
	for _, pattern := range Patterns {
		for _, mode := range ModelModes {
			s := Settings{}
			if pattern == AsyncPipeline {
				s.ModelMode = mode
			}
			s.applyDefaults(pattern)
			if errs := s.validate("settings", pattern); len(errs) > 0 {
				t.Errorf("%s (%s): defaults fail: %v", pattern, mode, errs)
			}
			for _, st := range SettingsTable {
				set := !st.field(&s).IsZero()
				want := st.Default != nil && !st.DefaultAtUse && slices.Contains(st.Patterns, pattern) &&
					(st.Name != "batchPollCron" || s.ModelMode == ModelModeBatch)
				if set != want {
					t.Errorf("%s (%s): %s set %v, want %v", pattern, mode, st.Name, set, want)
				}
			}
		}
	}
}

// Each bound of each range is checked, named by the setting's field, with
// its reason; one past it fails and the bound itself passes.
func TestRangesAreChecked(t *testing.T) {
	for _, st := range SettingsTable {
		for _, pattern := range st.Patterns {
			r := st.Range
			if pr, ok := st.ByPattern[pattern]; ok {
				r = &pr
			}
			if r == nil {
				continue
			}
			for _, c := range []struct {
				v  int
				ok bool
			}{{r.Min, true}, {r.Max, true}, {r.Min - 1, r.Min-1 == 0}, {r.Max + 1, false}} {
				s := Settings{}
				s.applyDefaults(pattern)
				st.field(&s).SetInt(int64(c.v))
				errs := s.validate("zerocost:products[0].settings", pattern)
				if c.ok != (len(errs) == 0) {
					t.Errorf("%s=%d (%s): errors %v", st.Name, c.v, pattern, errs)
					continue
				}
				if !c.ok && !strings.HasPrefix(errs[0].Error(), "zerocost:products[0].settings."+st.Name+": ") || !c.ok && !strings.Contains(errs[0].Error(), r.Why) {
					t.Errorf("%s=%d (%s): %v does not name the field with %q", st.Name, c.v, pattern, errs[0], r.Why)
				}
			}
		}
	}
}

// A setting's var text and var default are what the Worker parses.
func TestVarText(t *testing.T) {
	s := Settings{MaxRetries: 7, ModelMode: ModelModeBatch, MonthlyBudgetUSD: 12.5}
	for name, want := range map[string]string{
		"maxRetries": "7", "modelMode": "batch", "monthlyBudgetUsd": "12.5",
		"budgetAlertThresholds": "50,80,100", "budgetAlertWebhook": "",
	} {
		if got := s.VarText(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]any{
		"maxRetries": DefaultMaxRetries, "modelMode": DefaultModelMode,
		"budgetAlertThresholds": "50,80,100", "monthlyBudgetUsd": nil,
	} {
		st, _ := SettingNamed(name)
		if got := st.VarDefault(); got != want {
			t.Errorf("%s: default %#v, want %#v", name, got, want)
		}
	}
}
