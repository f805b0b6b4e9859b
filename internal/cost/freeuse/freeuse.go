// Package freeuse reads today's use of Workers Free's daily limits (UTC
// day so far) and the month's use of R2's monthly allowances from
// Cloudflare's analytics, for the whole account (the limits are the
// account's) and for one stack's share, and says when each runs out at the
// current rate. It also tells which limits crossed a threshold in a window
// of time, so that a run every hour alerts once per crossing, keeping no
// state: each run alerts only for the crossings its window saw.
package freeuse

import (
	"context"
	"time"

	"github.com/zerocost/zerocost/internal/cost"
	"github.com/zerocost/zerocost/internal/cost/analytics"
)

// Kinds of limit.
const (
	Daily   = "daily"   // resets at 00:00 UTC; past it, operations fail
	Monthly = "monthly" // an allowance per calendar month; past it, billed
	Stored  = "stored"  // what is stored now against the monthly GB-month allowance
)

// Use is one limit's use.
type Use struct {
	Service string  `json:"service"`
	Metric  string  `json:"metric"`
	Label   string  `json:"label"`
	Kind    string  `json:"kind"`
	Limit   float64 `json:"limit"`
	Unit    string  `json:"unit"`
	// Account and Stack are nil when unknown (a failed read is never zero),
	// with the reason in AccountError and StackError.
	Account      *float64 `json:"account"`
	Stack        *float64 `json:"stack"`
	AccountError string   `json:"account_error,omitempty"`
	StackError   string   `json:"stack_error,omitempty"`
	// Used is the known use over the limit: the account's, or the stack's
	// when the account's is unknown (then LowerBound: the account uses at
	// least that). Nil when neither is known.
	Used       *float64 `json:"used"`
	LowerBound bool     `json:"lower_bound,omitempty"`
	// Reached: the limit is used up. RunsOut is when it will be at the
	// current rate, when that falls in the period (nil: it lasts).
	Reached bool       `json:"reached,omitempty"`
	RunsOut *time.Time `json:"runs_out,omitempty"`
	// Crossed: the threshold was crossed in the run's alert window, on
	// CrossedIn (the UTC day, or the month of a monthly allowance).
	Crossed   bool   `json:"crossed,omitempty"`
	CrossedIn string `json:"crossed_in,omitempty"`
}

// Status is the account's use at Now.
type Status struct {
	Stack   string    `json:"stack"`
	Account string    `json:"account"`
	Now     time.Time `json:"now"`
	// Threshold is the alert threshold, percent of each limit (0: none);
	// WindowStart and WindowEnd bound the alert window.
	Threshold   float64   `json:"threshold,omitempty"`
	WindowStart time.Time `json:"window_start,omitzero"`
	WindowEnd   time.Time `json:"window_end,omitzero"`
	Uses        []Use     `json:"uses"`
}

// Request is what Read reads.
type Request struct {
	Stack *Stack
	Now   time.Time
	// Threshold in percent (0: no alerts); the alert window is
	// [Now-Settle-Every, Now-Settle).
	Threshold float64
	Every     time.Duration
	Settle    time.Duration
}

type limitDef struct {
	m    cost.Meter
	kind string
}

// limits are the limits status watches, in the order it prints them; their
// amounts come from the price file (free_per_day, allowance_per_month),
// which cites Cloudflare's pricing pages.
var limits = []limitDef{
	{cost.Meter{Service: cost.Workers, Metric: cost.Requests}, Daily},
	{cost.Meter{Service: cost.Queues, Metric: cost.Operations}, Daily},
	{d1Meters[0], Daily}, {d1Meters[1], Daily},
	{cost.Meter{Service: cost.KV, Metric: cost.Reads}, Daily},
	{cost.Meter{Service: cost.KV, Metric: cost.Writes}, Daily},
	{cost.Meter{Service: cost.KV, Metric: cost.Deletes}, Daily},
	{cost.Meter{Service: cost.KV, Metric: cost.Lists}, Daily},
	{aePoints, Daily},
	{cost.Meter{Service: cost.R2, Metric: cost.ClassA}, Monthly},
	{cost.Meter{Service: cost.R2, Metric: cost.ClassB}, Monthly},
	{r2Storage, Stored},
}

func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func periodStart(kind string, t time.Time) time.Time {
	if kind == Daily {
		return dayStart(t)
	}
	return monthStart(t)
}

func periodEnd(kind string, t time.Time) time.Time {
	if kind == Daily {
		return dayStart(t).AddDate(0, 0, 1)
	}
	return monthStart(t).AddDate(0, 1, 0)
}

// reader reads amounts of the daily or the monthly limits over [start,
// end), each read once.
type reader struct {
	ctx   context.Context
	c     *analytics.Client
	s     *Stack
	cache map[readKey]*Amounts
}

type readKey struct {
	kind       string
	start, end int64
}

func (r *reader) read(kind string, start, end time.Time) *Amounts {
	key := readKey{kind, start.Unix(), end.Unix()}
	if a, ok := r.cache[key]; ok {
		return a
	}
	a := newAmounts()
	if kind == Daily {
		a.readSets(r.ctx, r.c, daily, r.s, start, end)
		a.readD1(r.ctx, r.c, r.s, start, end)
		a.readPoints(r.ctx, r.c, r.s, start, end)
	} else {
		a.readSets(r.ctx, r.c, monthly, r.s, start, end)
	}
	r.cache[key] = a
	return a
}

// Read reads the account's use at req.Now and, with a threshold, which
// limits crossed it in the alert window.
func Read(ctx context.Context, c *analytics.Client, p *cost.Prices, req Request) *Status {
	now := req.Now.UTC()
	st := &Status{Stack: req.Stack.Name, Account: c.AccountID, Now: now, Threshold: req.Threshold}
	r := &reader{ctx: ctx, c: c, s: req.Stack, cache: map[readKey]*Amounts{}}
	stored := newAmounts()
	stored.readStorage(ctx, c, req.Stack, now)
	if req.Threshold > 0 {
		st.WindowEnd = now.Add(-req.Settle)
		st.WindowStart = st.WindowEnd.Add(-req.Every)
	}
	for _, l := range limits {
		mp := p.Meter(l.m)
		if mp == nil {
			continue
		}
		u := Use{Service: l.m.Service, Metric: l.m.Metric, Label: cost.MeterLabel(l.m), Kind: l.kind, Unit: mp.Unit}
		var a *Amounts
		switch l.kind {
		case Daily:
			u.Limit, a = mp.FreePerDay, r.read(Daily, dayStart(now), now)
		case Monthly:
			u.Limit, a = mp.AllowancePerMonth, r.read(Monthly, monthStart(now), now)
		default:
			u.Limit, a = mp.AllowancePerMonth, stored
		}
		if u.Limit <= 0 {
			continue
		}
		u.fill(a, l.m)
		if l.kind != Stored {
			u.runsOut(now, periodStart(l.kind, now), periodEnd(l.kind, now))
		}
		if req.Threshold > 0 && l.kind != Stored {
			u.CrossedIn, u.Crossed = crossed(r, l, u.Limit*req.Threshold/100, st.WindowStart, st.WindowEnd)
		}
		st.Uses = append(st.Uses, u)
	}
	return st
}
