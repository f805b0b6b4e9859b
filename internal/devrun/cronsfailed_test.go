package devrun

import "testing"

func TestCronsFailed(t *testing.T) {
	if err := CronsFailed("p", []CronResult{{Outcome: "ok"}, {Outcome: "ok"}}); err != nil {
		t.Errorf("all ok: %v", err)
	}
	err := CronsFailed("p", []CronResult{{Outcome: "ok"}, {Outcome: "exceededCpu"}, {Outcome: "exception"}})
	if err == nil || err.Error() != "p: the scheduled handler failed (exceededCpu)" {
		t.Errorf("a failure: %v", err)
	}
}
