package devrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/zerocost/zerocost/internal/cronexpr"
)

// The cron schedule of `zerocost dev` (unless --crons=false): each product's crons fire
// at their times (UTC), through the entry socket as TriggerCron does
// (trigger.go).

// Clock is the time the cron schedule follows; tests inject one.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// cronJob is one cron trigger of one product.
type cronJob struct {
	product, script string
	sched           *cronexpr.Schedule
}

// cronJobs are the plan's cron triggers, parsed. An expression the parser
// refuses is an error: Cloudflare would refuse it too.
func cronJobs(products []Product) ([]cronJob, error) {
	var jobs []cronJob
	var errs []error
	for _, p := range products {
		for _, c := range p.Crons {
			s, err := cronexpr.Parse(c)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
				continue
			}
			jobs = append(jobs, cronJob{product: p.Name, script: p.Script, sched: s})
		}
	}
	return jobs, errors.Join(errs...)
}

// runCrons fires each job at the minutes its schedule names, by the clock,
// until ctx ends; it returns once the firings it started have returned. A
// firing runs in its own goroutine, so a slow handler delays no other. When
// the clock jumps (a laptop that slept), a job fires once for the latest
// missed minute, not once for each.
func runCrons(ctx context.Context, clock Clock, jobs []cronJob, fire func(ctx context.Context, j cronJob, at time.Time)) {
	if len(jobs) == 0 {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	next := make([]time.Time, len(jobs))
	now := clock.Now()
	for i, j := range jobs {
		next[i] = j.sched.Next(now)
	}
	for {
		var first time.Time
		for _, t := range next {
			if !t.IsZero() && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
		if first.IsZero() {
			<-ctx.Done() // nothing ever fires
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-clock.After(first.Sub(now)):
		}
		now = clock.Now()
		for i, j := range jobs {
			if next[i].IsZero() || next[i].After(now) {
				continue
			}
			// The latest minute due: with no jump, next[i] itself.
			at := next[i]
			for {
				n := j.sched.Next(at)
				if n.IsZero() || n.After(now) {
					break
				}
				at = n
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				fire(ctx, j, at)
			}()
			next[i] = j.sched.Next(now)
		}
	}
}

// startCrons fires the products' crons on their schedules in the background
// (Options.FireCrons), logging each run; stop ends it.
func (rt *Runtime) startCrons(p *prepared, clock Clock) error {
	jobs, err := cronJobs(rt.products)
	if err != nil {
		return usage(err)
	}
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rt.cronStop = func() {
		cancel()
		<-done
	}
	var names []string
	for _, j := range jobs {
		names = append(names, fmt.Sprintf("%s %q", j.product, j.sched))
	}
	p.logf("firing crons on their schedules (UTC): %s", strings.Join(names, ", "))
	go func() {
		defer close(done)
		runCrons(ctx, clock, jobs, func(ctx context.Context, j cronJob, at time.Time) {
			r, err := fireScheduled(ctx, rt.entryURL, j.product, j.script, j.sched.String(), at)
			switch {
			case ctx.Err() != nil:
			case err != nil:
				p.logf("cron: %v", err)
			default:
				p.logf("cron: %s", r)
			}
			if rt.onCron != nil {
				rt.onCron(r, err)
			}
		})
	}()
	return nil
}
