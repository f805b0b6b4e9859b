// Package cronexpr parses the five-field cron expressions that Cloudflare
// accepts for a Worker's cron triggers, and finds when they fire (in UTC, as
// Cloudflare runs them).
//
// The syntax, as Cloudflare documents it:
//
//	field          values                                   characters
//	minute         0-59                                     * , - /
//	hour           0-23                                     * , - /
//	day of month   1-31                                     * , - / L W
//	month          1-12 or JAN-DEC (any case)               * , - /
//	day of week    1-7 or SUN-SAT (any case), 1 = Sunday    * , - / L #
//
// L in the day of month is the month's last day, LW its last weekday, and NW
// the weekday nearest to day N (within the month); in the day of week, NL is
// the month's last such weekday and N#K its K-th. As in Vixie cron, when both
// day fields are restricted a day matches either; when one is *, the other
// decides.
package cronexpr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed cron expression.
type Schedule struct {
	expr   string
	minute uint64 // bit i: minute i
	hour   uint64
	month  uint64 // bits 1..12

	domStar bool
	dom     uint64 // bits 1..31
	domLast bool   // L
	domLW   bool   // LW
	domW    []int  // NW: the weekday nearest to day N

	dowStar bool
	dow     uint64 // bits 0..6, 0 = Sunday (time.Weekday)
	dowLast []time.Weekday
	dowNth  []nth
}

type nth struct {
	day time.Weekday
	k   int
}

// String is the expression as given.
func (s *Schedule) String() string { return s.expr }

var months = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var days = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// field describes one of the five fields.
type field struct {
	name     string
	min, max int
	names    []string // names[i] is min+i
}

var (
	fMinute = field{"minute", 0, 59, nil}
	fHour   = field{"hour", 0, 23, nil}
	fDom    = field{"day of month", 1, 31, nil}
	fMonth  = field{"month", 1, 12, months}
	fDow    = field{"day of week", 1, 7, days}
)

// Parse parses a five-field expression. Its errors name the field and say
// what it accepts.
func Parse(expr string) (*Schedule, error) {
	fs := strings.Fields(expr)
	if len(fs) != 5 {
		return nil, fmt.Errorf("cron %q: want five fields (minute hour day-of-month month day-of-week), got %d", expr, len(fs))
	}
	s := &Schedule{expr: expr}
	var err error
	wrap := func(f field, e error) error {
		return fmt.Errorf("cron %q: %s: %w", expr, f.name, e)
	}
	if s.minute, err = plainField(fs[0], fMinute); err != nil {
		return nil, wrap(fMinute, err)
	}
	if s.hour, err = plainField(fs[1], fHour); err != nil {
		return nil, wrap(fHour, err)
	}
	if s.month, err = plainField(fs[3], fMonth); err != nil {
		return nil, wrap(fMonth, err)
	}
	if err = s.parseDom(fs[2]); err != nil {
		return nil, wrap(fDom, err)
	}
	if err = s.parseDow(fs[4]); err != nil {
		return nil, wrap(fDow, err)
	}
	return s, nil
}

// MustParse is Parse for expressions known to be valid; it panics otherwise.
func MustParse(expr string) *Schedule {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

// plainField parses a list of *, N, A-B, */S, N/S and A-B/S.
func plainField(s string, f field) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(s, ",") {
		b, err := rangePart(part, f)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

func rangePart(part string, f field) (uint64, error) {
	if part == "" {
		return 0, fmt.Errorf("an empty list item")
	}
	rng, stepStr, hasStep := strings.Cut(part, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepStr)
		if err != nil || n < 1 || n > f.max-f.min+1 {
			return 0, fmt.Errorf("step %q is not a number from 1 to %d", stepStr, f.max-f.min+1)
		}
		step = n
	}
	lo, hi := f.min, f.max
	switch {
	case rng == "*":
	default:
		a, b, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = value(a, f); err != nil {
			return 0, err
		}
		hi = lo
		if isRange {
			if hi, err = value(b, f); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		} else if hasStep {
			hi = f.max // N/S: from N to the end
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

// value parses a number or a name of the field.
func value(s string, f field) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < f.min || n > f.max {
			if f.name == fDow.name {
				return 0, fmt.Errorf("%d is out of range 1-7 (1 = Sunday, 7 = Saturday)", n)
			}
			return 0, fmt.Errorf("%d is out of range %d-%d", n, f.min, f.max)
		}
		return n, nil
	}
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	if f.names != nil {
		return 0, fmt.Errorf("%q is neither %d-%d nor %s-%s", s, f.min, f.max, f.names[0], f.names[len(f.names)-1])
	}
	return 0, fmt.Errorf("%q is not a number from %d to %d", s, f.min, f.max)
}

// parseList parses a comma-separated field: "*" sets star; otherwise each
// element goes to part, with its upper-case form.
func parseList(str string, star *bool, part func(part, up string) error) error {
	if str == "*" {
		*star = true
		return nil
	}
	for _, p := range strings.Split(str, ",") {
		if err := part(p, strings.ToUpper(p)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Schedule) parseDom(str string) error {
	return parseList(str, &s.domStar, func(part, up string) error {
		switch {
		case up == "L":
			s.domLast = true
		case up == "LW":
			s.domLW = true
		case strings.HasSuffix(up, "W"):
			n, err := value(up[:len(up)-1], fDom)
			if err != nil {
				return fmt.Errorf("%q: %w", part, err)
			}
			s.domW = append(s.domW, n)
		default:
			b, err := rangePart(part, fDom)
			if err != nil {
				return err
			}
			s.dom |= b
		}
		return nil
	})
}

func (s *Schedule) parseDow(str string) error {
	return parseList(str, &s.dowStar, func(part, up string) error {
		switch {
		case strings.Contains(up, "#"):
			d, k, _ := strings.Cut(up, "#")
			v, err := value(d, fDow)
			if err != nil {
				return fmt.Errorf("%q: %w", part, err)
			}
			n, err := strconv.Atoi(k)
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf("%q: the week %q is not 1 to 5", part, k)
			}
			s.dowNth = append(s.dowNth, nth{time.Weekday(v - 1), n})
		case len(up) > 1 && strings.HasSuffix(up, "L"):
			v, err := value(up[:len(up)-1], fDow)
			if err != nil {
				return fmt.Errorf("%q: %w", part, err)
			}
			s.dowLast = append(s.dowLast, time.Weekday(v-1))
		case up == "L":
			s.dowLast = append(s.dowLast, time.Saturday) // Quartz: L alone is the last day of the week
		default:
			b, err := rangePart(part, fDow)
			if err != nil {
				return err
			}
			s.dow |= b >> 1 // 1 = Sunday -> time.Sunday (0)
		}
		return nil
	})
}

// daysIn is the number of days of t's month.
func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (s *Schedule) domMatch(t time.Time) bool {
	d, last := t.Day(), daysIn(t)
	if s.dom&(1<<uint(d)) != 0 || (s.domLast && d == last) {
		return true
	}
	if s.domLW && d == lastWeekday(t) {
		return true
	}
	for _, n := range s.domW {
		if d == nearestWeekday(t, n) {
			return true
		}
	}
	return false
}

func (s *Schedule) dowMatch(t time.Time) bool {
	wd := t.Weekday()
	if s.dow&(1<<uint(wd)) != 0 {
		return true
	}
	d, last := t.Day(), daysIn(t)
	for _, l := range s.dowLast {
		if wd == l && d+7 > last {
			return true
		}
	}
	for _, n := range s.dowNth {
		if wd == n.day && (d-1)/7+1 == n.k {
			return true
		}
	}
	return false
}

// dayMatch: Vixie cron's rule for the two day fields.
func (s *Schedule) dayMatch(t time.Time) bool {
	switch {
	case s.domStar && s.dowStar:
		return true
	case s.domStar:
		return s.dowMatch(t)
	case s.dowStar:
		return s.domMatch(t)
	default:
		return s.domMatch(t) || s.dowMatch(t)
	}
}

func lastWeekday(t time.Time) int {
	d := daysIn(t)
	switch time.Date(t.Year(), t.Month(), d, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		return d - 1
	case time.Sunday:
		return d - 2
	}
	return d
}

// nearestWeekday is Quartz's NW: the weekday nearest to day n of t's month,
// never crossing into another month.
func nearestWeekday(t time.Time, n int) int {
	last := daysIn(t)
	if n > last {
		return -1
	}
	switch time.Date(t.Year(), t.Month(), n, 0, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3 // Monday the 3rd
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}

// Matches reports whether the schedule fires at t's minute (in UTC).
func (s *Schedule) Matches(t time.Time) bool {
	t = t.UTC()
	return s.minute&(1<<uint(t.Minute())) != 0 && s.hour&(1<<uint(t.Hour())) != 0 &&
		s.month&(1<<uint(t.Month())) != 0 && s.dayMatch(t)
}

// Next is the first minute strictly after t (in UTC) at which the schedule
// fires, or the zero time when it never fires in the next five years (such
// as "0 0 30 2 *").
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		if s.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !s.dayMatch(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if s.hour&(1<<uint(t.Hour())) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if s.minute&(1<<uint(t.Minute())) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}
