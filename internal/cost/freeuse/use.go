package freeuse

import (
	"time"

	"github.com/zerocost/zerocost/internal/cost"
)

// fill sets the amounts of a meter, or the reasons they are unknown.
func (u *Use) fill(a *Amounts, m cost.Meter) {
	if err := a.Failed[m]; err != nil {
		u.AccountError = err.Error()
	} else if n, ok := a.Account[m]; ok {
		u.Account = &n
	}
	if err := a.StackFailed[m]; err != nil {
		u.StackError = err.Error()
	} else if n, ok := a.Stack[m]; ok {
		u.Stack = &n
	}
	switch {
	case u.Account != nil:
		used := *u.Account / u.Limit
		u.Used = &used
	case u.Stack != nil:
		used := *u.Stack / u.Limit
		u.Used, u.LowerBound = &used, true
	}
}

// known is the amount the use is judged on: the account's, else the
// stack's (a lower bound).
func known(a *Amounts, m cost.Meter) (float64, bool) {
	if a.Failed[m] == nil {
		n, ok := a.Account[m]
		return n, ok
	}
	if a.StackFailed[m] == nil {
		n, ok := a.Stack[m]
		return n, ok
	}
	return 0, false
}

// runsOut says when the limit runs out at the period's average rate so
// far, if that falls before the period ends.
func (u *Use) runsOut(now, start, end time.Time) {
	if u.Used == nil {
		return
	}
	if *u.Used >= 1 {
		u.Reached = true
		return
	}
	used := *u.Used * u.Limit
	elapsed := now.Sub(start)
	if used <= 0 || elapsed <= 0 {
		return
	}
	left := time.Duration(float64(elapsed) * (u.Limit - used) / used)
	if t := now.Add(left); t.Before(end) {
		u.RunsOut = &t
	}
}

// crossed says whether a limit's use went from below at to at or above it
// within [from, to). The window is cut at the period's start (a day's
// limits reset at 00:00 UTC), and each part compares the use from its
// period's start to the part's two ends. Runs whose windows follow each
// other without gap or overlap thus see each crossing exactly once.
func crossed(r *reader, l limitDef, at float64, from, to time.Time) (string, bool) {
	for a := from; a.Before(to); {
		ps := periodStart(l.kind, a)
		b := periodEnd(l.kind, a)
		if b.After(to) {
			b = to
		}
		before := 0.0
		if a.After(ps) {
			n, ok := known(r.read(l.kind, ps, a), l.m)
			if !ok {
				return "", false
			}
			before = n
		}
		after, ok := known(r.read(l.kind, ps, b), l.m)
		if ok && before < at && after >= at {
			if l.kind == Daily {
				return ps.Format(time.DateOnly), true
			}
			return ps.Format("2006-01"), true
		}
		a = b
	}
	return "", false
}
