package cronexpr

import (
	"strings"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// Cloudflare's documented examples, and the edges of each field.
func TestNext(t *testing.T) {
	for _, c := range []struct {
		expr, from string
		want       []string
	}{
		{"* * * * *", "2026-03-01 10:00", []string{"2026-03-01 10:01", "2026-03-01 10:02"}},
		{"*/30 * * * *", "2026-03-01 10:00", []string{"2026-03-01 10:30", "2026-03-01 11:00"}},
		{"*/5 * * * *", "2026-03-01 10:03", []string{"2026-03-01 10:05", "2026-03-01 10:10"}},
		{"45 * * * *", "2026-03-01 10:50", []string{"2026-03-01 11:45"}},
		// 1 = Sunday: 2026-03-01 is a Sunday.
		{"0 17 * * sun", "2026-02-27 00:00", []string{"2026-03-01 17:00", "2026-03-08 17:00"}},
		{"0 17 * * 1", "2026-02-27 00:00", []string{"2026-03-01 17:00", "2026-03-08 17:00"}},
		{"10 7 * * mon-fri", "2026-03-06 08:00", []string{"2026-03-09 07:10", "2026-03-10 07:10"}},
		{"10 7 * * 2-6", "2026-03-06 08:00", []string{"2026-03-09 07:10"}},
		{"0 15 1 * *", "2026-03-01 15:00", []string{"2026-04-01 15:00"}},
		{"0 18 * * 6L", "2026-03-01 00:00", []string{"2026-03-27 18:00", "2026-04-24 18:00"}},
		{"0 18 * * friL", "2026-03-01 00:00", []string{"2026-03-27 18:00"}},
		{"59 23 LW * *", "2026-05-01 00:00", []string{"2026-05-29 23:59", "2026-06-30 23:59"}}, // May 31 is a Sunday
		{"0 0 L * *", "2026-02-01 00:00", []string{"2026-02-28 00:00", "2026-03-31 00:00"}},
		{"0 0 L * *", "2028-02-01 00:00", []string{"2028-02-29 00:00"}},
		{"0 0 15W * *", "2026-08-01 00:00", []string{"2026-08-14 00:00", "2026-09-15 00:00"}}, // Aug 15 2026 is a Saturday
		{"0 0 1W * *", "2026-07-31 00:00", []string{"2026-08-03 00:00"}},                      // Aug 1 2026 is a Saturday: Monday the 3rd
		{"0 9 * * 2#1", "2026-03-01 00:00", []string{"2026-03-02 09:00", "2026-04-06 09:00"}}, // first Monday
		{"0 0 * jan,JUL *", "2026-03-01 00:00", []string{"2026-07-01 00:00"}},
		{"0 0 1-7/3 * *", "2026-03-01 00:00", []string{"2026-03-04 00:00", "2026-03-07 00:00", "2026-04-01 00:00"}},
		{"5/20 * * * *", "2026-03-01 10:00", []string{"2026-03-01 10:05", "2026-03-01 10:25", "2026-03-01 10:45", "2026-03-01 11:05"}},
		// Both day fields restricted: either matches (Vixie cron).
		{"0 0 13 * 6", "2026-03-01 00:00", []string{"2026-03-06 00:00", "2026-03-13 00:00", "2026-03-20 00:00"}},
		{"0 0 31 * *", "2026-04-01 00:00", []string{"2026-05-31 00:00"}},
		{"0 0 29 2 *", "2026-01-01 00:00", []string{"2028-02-29 00:00"}},
		{"59 23 31 12 *", "2026-12-31 23:59", []string{"2027-12-31 23:59"}},
	} {
		s, err := Parse(c.expr)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		from := at(c.from)
		for _, w := range c.want {
			got := s.Next(from)
			if !got.Equal(at(w)) {
				t.Errorf("%q after %s: %s, want %s", c.expr, from.Format(time.DateTime), got.Format(time.DateTime), w)
				break
			}
			if !s.Matches(got) {
				t.Errorf("%q: Next gave %s, which Matches refuses", c.expr, got)
			}
			from = got
		}
	}
}

// Seconds and time zones do not matter: Next is the next whole UTC minute
// strictly after t.
func TestNextIsAfterAndUTC(t *testing.T) {
	s := MustParse("0 12 * * *")
	ny, _ := time.LoadLocation("America/New_York")
	if ny == nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	from := time.Date(2026, 3, 2, 6, 59, 30, 0, ny) // 11:59:30 UTC (or 12:59:30 with DST data)
	got := s.Next(from)
	if got.Location() != time.UTC || got.Hour() != 12 || got.Minute() != 0 || !got.After(from) {
		t.Errorf("Next(%s) = %s", from, got)
	}
	exact := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	if got := s.Next(exact); !got.Equal(exact.AddDate(0, 0, 1)) {
		t.Errorf("Next at a firing minute: %s, want the next day", got)
	}
	if !MustParse("0 0 30 2 *").Next(exact).IsZero() {
		t.Error("February 30th fired")
	}
}

func TestParseErrors(t *testing.T) {
	for expr, want := range map[string]string{
		"* * * *":         "five fields",
		"* * * * * *":     "five fields",
		"60 * * * *":      "minute: 60 is out of range 0-59",
		"* 24 * * *":      "hour: 24 is out of range 0-23",
		"* * 0 * *":       "day of month: 0 is out of range 1-31",
		"* * * 13 *":      "month: 13 is out of range 1-12",
		"* * * foo *":     `month: "foo" is neither`,
		"* * * * 0":       "day of week: 0 is out of range 1-7 (1 = Sunday",
		"* * * * 8":       "day of week: 8 is",
		"*/0 * * * *":     "step",
		"5-1 * * * *":     "backwards",
		"1,,2 * * * *":    "empty list item",
		"* * 32W * *":     "day of month",
		"* * * * 6#6":     "the week",
		"L * * * *":       "minute",
		"* * * * mon-sun": "backwards",
	} {
		_, err := Parse(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", expr, err, want)
		}
	}
}
