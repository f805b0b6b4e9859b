package apikeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RecordVersion is the "v" of the records this package writes.
const RecordVersion = 1

// DefaultTier is the tier of a key created without --tier.
const DefaultTier = "standard"

// MaxMetadata is the largest metadata Workers KV stores with a key: 1024
// bytes (Cloudflare docs, Workers KV limits). The record is also the
// metadata, so that listing needs no value reads.
const MaxMetadata = 1024

// Record is what the KEYS namespace holds under KVName(Hash(key)), as its
// value and as its metadata. Times are UTC, whole seconds.
type Record struct {
	V        int    `json:"v"`
	Customer string `json:"customer"`
	Prefix   string `json:"prefix"`
	Product  string `json:"product"`
	Tier     string `json:"tier"`
	// MonthlyBudgetUSD is the customer's monthly budget; nil is none.
	MonthlyBudgetUSD *float64  `json:"monthly_budget_usd"`
	CreatedAt        time.Time `json:"created_at"`
	// ExpiresAt is nil for a key that does not expire.
	ExpiresAt *time.Time `json:"expires_at"`
	// RevokedAt is set by revoke; the record stays, so the Worker's 401
	// can say the key was revoked.
	RevokedAt *time.Time `json:"revoked_at"`
}

// Live reports whether the key works at now: neither revoked nor expired.
func (r Record) Live(now time.Time) bool {
	return r.RevokedAt == nil && (r.ExpiresAt == nil || now.Before(*r.ExpiresAt))
}

// State is "live", "revoked" or "expired" at now.
func (r Record) State(now time.Time) string {
	switch {
	case r.RevokedAt != nil:
		return "revoked"
	case !r.Live(now):
		return "expired"
	}
	return "live"
}

// Marshal is the record's JSON, checked against MaxMetadata.
func (r Record) Marshal() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMetadata {
		return nil, fmt.Errorf("the record of %s is %d bytes; KV metadata holds at most %d", r.Prefix, len(b), MaxMetadata)
	}
	return b, nil
}

// Stamp is t in UTC, truncated to whole seconds: how records keep times.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

var (
	customerRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)
	tierRe     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// CheckCustomer checks a customer name: 1 to 63 of a-z, 0-9, '_', '.', '-',
// starting with a letter or digit.
func CheckCustomer(name string) error {
	if !customerRe.MatchString(name) {
		return fmt.Errorf("customer %q: use 1 to 63 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckTier checks a tier name's shape: the Worker has one rate-limit
// binding DOOR_<TIER> per tier, so a tier must make a binding name. The 32
// characters are zerocost's own bound, to keep the record short.
func CheckTier(tier string) error {
	if !tierRe.MatchString(tier) {
		return fmt.Errorf("tier %q: use a lower-case letter, then up to 31 lower-case letters, digits or '_'", tier)
	}
	return nil
}

// CheckBudget checks a monthly budget in US dollars.
func CheckBudget(usd float64) error {
	if math.IsNaN(usd) || math.IsInf(usd, 0) || usd < 0 {
		return fmt.Errorf("monthly budget %v: give 0 or more US dollars", usd)
	}
	return nil
}

// MaxExpiryDays bounds --expires and --grace: ten years. It is zerocost's
// own bound (Workers KV sets none on a record's contents), so that a typo
// such as 36500d is refused.
const MaxExpiryDays = 3650

// ParseExpires reads --expires: a date YYYY-MM-DD (the key expires at 00:00
// UTC that day) or Nd (N days from now, 1 <= N <= MaxExpiryDays). The time
// must be after now.
func ParseExpires(s string, now time.Time) (time.Time, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > MaxExpiryDays {
			return time.Time{}, fmt.Errorf("--expires %q: Nd takes a whole number of days from 1 to %d", s, MaxExpiryDays)
		}
		return Stamp(now.Add(time.Duration(days) * 24 * time.Hour)), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: give a date YYYY-MM-DD or a number of days Nd (e.g. 30d)", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("--expires %s is not in the future", s)
	}
	if t.After(now.Add(MaxExpiryDays * 24 * time.Hour)) {
		return time.Time{}, fmt.Errorf("--expires %s is more than %d days away", s, MaxExpiryDays)
	}
	return t, nil
}

// errNoLiveKey says a customer has no live key to rotate.
var errNoLiveKey = errors.New("no live key")
