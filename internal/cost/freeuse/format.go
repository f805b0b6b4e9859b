package freeuse

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zerocost/zerocost/internal/cost"
)

// Formats WriteStatus accepts.
var Formats = []string{"table", "json"}

// WriteStatus prints the status as a table or as JSON.
func WriteStatus(w io.Writer, s *Status, format string) error {
	if format == "json" {
		return cost.WriteIndentedJSON(w, s)
	}
	fmt.Fprintf(w, "Free-tier use of account %s, %s UTC (stack %s)\n\n", s.Account, s.Now.Format("2006-01-02 15:04"), s.Stack)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "FREE-TIER USE\tACCOUNT\tSTACK %s\tLIMIT\tUSED\tRUNS OUT\t\n", s.Stack)
	for _, u := range s.Uses {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", u.Label+period(u.Kind), amount(u.Account, u.Kind), amount(u.Stack, u.Kind), limit(u), used(u), runsOut(u, s.Now))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, u := range s.Uses {
		if u.AccountError != "" {
			notes = append(notes, fmt.Sprintf("%s: account unknown: %s", u.Label, u.AccountError))
		}
		if u.StackError != "" && u.StackError != u.AccountError {
			notes = append(notes, fmt.Sprintf("%s: stack unknown: %s", u.Label, u.StackError))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
	return nil
}

func period(kind string) string {
	switch kind {
	case Daily:
		return " (today)"
	case Monthly:
		return " (month to date)"
	}
	return " (stored now)"
}

func amount(n *float64, kind string) string {
	if n == nil {
		return "unknown"
	}
	if kind == Stored {
		return strconv.FormatFloat(*n, 'f', 3, 64) + " GB"
	}
	return commas(*n)
}

func limit(u Use) string {
	switch u.Kind {
	case Daily:
		return commas(u.Limit) + "/day"
	case Monthly:
		return commas(u.Limit) + "/month"
	}
	return commas(u.Limit) + " GB"
}

func used(u Use) string {
	if u.Used == nil {
		return "unknown"
	}
	s := strconv.FormatFloat(*u.Used*100, 'f', 0, 64) + "%"
	if u.LowerBound {
		s = ">=" + s
	}
	return s
}

func runsOut(u Use, now time.Time) string {
	switch {
	case u.Kind == Stored:
		return "-"
	case u.Used == nil:
		return "unknown"
	case u.Reached:
		return "reached"
	case u.RunsOut == nil && u.Kind == Daily:
		return "lasts the day"
	case u.RunsOut == nil:
		return "lasts the month"
	case u.Kind == Daily:
		return "~" + u.RunsOut.Format("15:04") + " UTC"
	}
	return "~" + u.RunsOut.Format("Jan 2")
}

func commas(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Alert is the webhook's message: the limits that crossed the threshold in
// the run's window.
type Alert struct {
	Text      string  `json:"text"`
	Stack     string  `json:"stack"`
	Account   string  `json:"account"`
	Threshold float64 `json:"threshold"`
	Limits    []Use   `json:"limits"`
}

// Alerts is the alert of the crossings the run saw; nil when none.
func (s *Status) Alerts() *Alert {
	a := &Alert{Stack: s.Stack, Account: s.Account, Threshold: s.Threshold}
	var names []string
	for _, u := range s.Uses {
		if u.Crossed {
			a.Limits = append(a.Limits, u)
			names = append(names, fmt.Sprintf("%s on %s (now %s of %s)", u.Label, u.CrossedIn, used(u), limit(u)))
		}
	}
	if len(a.Limits) == 0 {
		return nil
	}
	a.Text = fmt.Sprintf("zerocost: account %s (stack %s) passed %s%% of Workers Free limits: %s", s.Account, s.Stack,
		strconv.FormatFloat(s.Threshold, 'f', -1, 64), strings.Join(names, "; "))
	return a
}
