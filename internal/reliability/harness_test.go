package reliability

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	ds := ms(5, 1, 4, 2, 3, 10, 9, 8, 7, 6)
	for _, c := range []struct {
		p    float64
		want int
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {0, 1}, {10, 1}, {11, 2}} {
		if got := Percentile(ds, c.p); got != time.Duration(c.want)*time.Millisecond {
			t.Errorf("p%v = %s, want %d ms", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 || Mean(nil) != 0 || Mean(ms(1, 2, 3)) != 2*time.Millisecond {
		t.Error("empty or mean")
	}
	if ds[0] != 5*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
}

func TestParallel(t *testing.T) {
	var n, inFlight, most atomic.Int64
	errs := Parallel(context.Background(), 100, 7, func(i int) error {
		cur := inFlight.Add(1)
		for {
			m := most.Load()
			if cur <= m || most.CompareAndSwap(m, cur) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		n.Add(1)
		if i%10 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	if n.Load() != 100 || len(errs) != 10 || most.Load() > 7 {
		t.Errorf("ran %d, %d errors, %d at once", n.Load(), len(errs), most.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if errs := Parallel(ctx, 100, 2, func(int) error { return nil }); len(errs) == 0 || !errors.Is(errs[len(errs)-1], context.Canceled) {
		t.Errorf("a cancelled context: %v", errs)
	}
}

func TestProcCPUAndSize(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		if _, err := ProcCPU(os.Getpid()); err != nil {
			t.Error(err)
		}
		if len(GroupProcesses(-12345)) != 0 {
			t.Error("a process group that does not exist has members")
		}
	}
	t.Setenv(EnvSize, "full")
	if Size(1, 2) != 2 || !Full() {
		t.Error("full")
	}
	t.Setenv(EnvSize, "")
	if Size(1, 2) != 1 || Full() {
		t.Error("bounded")
	}
}

func TestBindingName(t *testing.T) {
	if got := bindingName("R2", "pipe-rel-outputs"); got != "R2_pipe_rel_outputs" {
		t.Error(got)
	}
}
