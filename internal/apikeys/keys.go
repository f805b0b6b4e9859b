package apikeys

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Keys manages one product's customer keys in its store.
type Keys struct {
	Store   *Store
	Product string
	// Now is the clock (default time.Now); Rand the key source (default
	// crypto/rand).
	Now  func() time.Time
	Rand io.Reader
}

func (k *Keys) now() time.Time {
	if k.Now != nil {
		return Stamp(k.Now())
	}
	return Stamp(time.Now())
}

// CreateParams are a new key's settings. Tier "" is DefaultTier; a nil
// budget is none.
type CreateParams struct {
	Customer         string
	Tier             string
	MonthlyBudgetUSD *float64
	ExpiresAt        *time.Time
}

// Issued is a new key (shown once, never stored) and its record. Changed
// lists the customer's other keys whose records were rewritten.
type Issued struct {
	Key     string
	Record  Record
	Changed []Entry
}

// Create issues a key for a customer. Tier and budget belong to the
// customer: the customer's other live keys are rewritten with this key's
// tier and budget, so that all of them agree.
func (k *Keys) Create(ctx context.Context, p CreateParams) (Issued, error) {
	if p.Tier == "" {
		p.Tier = DefaultTier
	}
	entries, err := k.Store.List(ctx)
	if err != nil {
		return Issued{}, err
	}
	now := k.now()
	iss, err := k.issue(p.Customer, p.Tier, p.MonthlyBudgetUSD, p.ExpiresAt, now)
	if err != nil {
		return Issued{}, err
	}
	for _, e := range entries {
		r := e.Record
		if r.Customer != p.Customer || !r.Live(now) || (r.Tier == p.Tier && sameBudget(r.MonthlyBudgetUSD, p.MonthlyBudgetUSD)) {
			continue
		}
		e.Record.Tier, e.Record.MonthlyBudgetUSD = p.Tier, p.MonthlyBudgetUSD
		if err := k.Store.Put(ctx, e.Hash, e.Record); err != nil {
			return Issued{}, err
		}
		iss.Changed = append(iss.Changed, e)
	}
	if err := k.Store.Put(ctx, Hash(iss.Key), iss.Record); err != nil {
		return Issued{}, err
	}
	return iss, nil
}

func sameBudget(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func (k *Keys) issue(customer, tier string, budget *float64, expires *time.Time, now time.Time) (Issued, error) {
	if err := CheckCustomer(customer); err != nil {
		return Issued{}, err
	}
	if err := CheckTier(tier); err != nil {
		return Issued{}, err
	}
	key, err := Generate(k.Rand)
	if err != nil {
		return Issued{}, err
	}
	rec := Record{V: RecordVersion, Customer: customer, Prefix: DisplayPrefix(key), Product: k.Product,
		Tier: tier, MonthlyBudgetUSD: budget, CreatedAt: now, ExpiresAt: expires}
	return Issued{Key: key, Record: rec}, nil
}

// RevokeParams name what to revoke: every key of Customer, or one Key,
// given whole (checked before any KV read) or as its display prefix.
type RevokeParams struct {
	Customer string
	Key      string
}

// Revoke sets revoked_at on the named keys that are not revoked yet and
// returns them; the records stay, so the Worker can answer "revoked".
func (k *Keys) Revoke(ctx context.Context, p RevokeParams) ([]Entry, error) {
	match, err := k.revokeMatch(p)
	if err != nil {
		return nil, err
	}
	entries, err := k.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	var found, done []Entry
	for _, e := range entries {
		if !match(e) {
			continue
		}
		found = append(found, e)
		if e.Record.RevokedAt != nil {
			continue
		}
		e.Record.RevokedAt = &now
		if err := k.Store.Put(ctx, e.Hash, e.Record); err != nil {
			return done, err
		}
		done = append(done, e)
	}
	if len(found) == 0 {
		if p.Customer != "" {
			return nil, fmt.Errorf("%s has no key for customer %s", k.Product, p.Customer)
		}
		return nil, fmt.Errorf("%s has no key %s", k.Product, DisplayPrefix(p.Key))
	}
	return done, nil
}

// revokeMatch checks what Revoke was given, before any KV call, and
// returns what selects the keys to revoke.
func (k *Keys) revokeMatch(p RevokeParams) (func(Entry) bool, error) {
	switch {
	case (p.Customer == "") == (p.Key == ""):
		return nil, fmt.Errorf("name either a customer or a key")
	case p.Customer != "":
		if err := CheckCustomer(p.Customer); err != nil {
			return nil, err
		}
		return func(e Entry) bool { return e.Record.Customer == p.Customer }, nil
	case IsDisplayPrefix(p.Key):
		return func(e Entry) bool { return e.Record.Prefix == p.Key }, nil
	case len(p.Key) < DisplayLen:
		return nil, fmt.Errorf("%w: give the whole key or its first %d characters (%s and 8 more)", ErrMalformed, DisplayLen, Prefix)
	}
	if err := Validate(p.Key); err != nil {
		return nil, err
	}
	h := Hash(p.Key)
	return func(e Entry) bool { return e.Hash == h }, nil
}

// Rotate issues a new key for a customer with the tier and budget of the
// customer's newest live key, and sets the customer's other live keys to
// expire after grace (keeping an earlier expiry). It returns the new key
// and, in Changed, the keys now expiring.
func (k *Keys) Rotate(ctx context.Context, customer string, grace time.Duration) (Issued, error) {
	if err := CheckCustomer(customer); err != nil {
		return Issued{}, err
	}
	if grace < 0 || grace > MaxExpiryDays*24*time.Hour {
		return Issued{}, fmt.Errorf("grace %s: give 0 to %d days", grace, MaxExpiryDays)
	}
	entries, err := k.Store.List(ctx)
	if err != nil {
		return Issued{}, err
	}
	now := k.now()
	var live []Entry
	for _, e := range entries {
		if e.Record.Customer == customer && e.Record.Live(now) {
			live = append(live, e)
		}
	}
	if len(live) == 0 {
		return Issued{}, fmt.Errorf("%w of customer %s on %s to rotate: create one with `zerocost keys create`", errNoLiveKey, customer, k.Product)
	}
	newest := live[len(live)-1].Record // List sorts by creation time
	iss, err := k.issue(customer, newest.Tier, newest.MonthlyBudgetUSD, nil, now)
	if err != nil {
		return Issued{}, err
	}
	if err := k.Store.Put(ctx, Hash(iss.Key), iss.Record); err != nil {
		return Issued{}, err
	}
	until := Stamp(now.Add(grace))
	for _, e := range live {
		if e.Record.ExpiresAt != nil && !e.Record.ExpiresAt.After(until) {
			continue
		}
		e.Record.ExpiresAt = &until
		if err := k.Store.Put(ctx, e.Hash, e.Record); err != nil {
			return iss, err
		}
		iss.Changed = append(iss.Changed, e)
	}
	return iss, nil
}
