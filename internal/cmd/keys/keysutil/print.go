package keysutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
)

// KeyJSON is a key as create --json and rotate --json print it: the only
// time Key is shown.
type KeyJSON struct {
	Key              string     `json:"key,omitempty"`
	Prefix           string     `json:"prefix"`
	Customer         string     `json:"customer"`
	Product          string     `json:"product"`
	Stack            string     `json:"stack"`
	CreatedAt        time.Time  `json:"created_at"`
	ExpiresAt        *time.Time `json:"expires_at"`
	MonthlyBudgetUSD *float64   `json:"monthly_budget_usd"`
	Tier             string     `json:"tier"`
}

// ListJSON is a key as list --json prints it: no key, and whether (and
// when) it was revoked.
type ListJSON struct {
	KeyJSON
	RevokedAt *time.Time `json:"revoked_at"`
	// State is "live", "expired" or "revoked".
	State string `json:"state"`
}

// JSONOf is a record as --json prints it (key is "" in lists).
func JSONOf(stack, key string, r apikeys.Record) KeyJSON {
	return KeyJSON{Key: key, Prefix: r.Prefix, Customer: r.Customer, Product: r.Product, Stack: stack,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, MonthlyBudgetUSD: r.MonthlyBudgetUSD, Tier: r.Tier}
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Budget is a monthly budget for people.
func Budget(usd *float64) string {
	if usd == nil {
		return "none"
	}
	return fmt.Sprintf("$%.2f", *usd)
}

// Date is a time for people ("never" for nil).
func Date(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// PrintIssued shows a new key once: on stdout alone (so that
// KEY=$(zerocost keys create ...) works), or in --json's one object; what it
// is and what changed goes to stderr. what is "Created" or "Rotated".
func (t *Target) PrintIssued(what string, iss apikeys.Issued, asJSON bool) error {
	r := iss.Record
	var err error
	if asJSON {
		err = WriteJSON(t.F.IO.Out, JSONOf(t.Stack, iss.Key, r))
	} else {
		_, err = fmt.Fprintln(t.F.IO.Out, iss.Key)
	}
	if err != nil {
		return err
	}
	e := t.F.IO.ErrOut
	fmt.Fprintf(e, "%s a key for customer %s of %s (stack %s): prefix %s, tier %s, monthly budget %s, expires %s.\n",
		what, r.Customer, r.Product, t.Stack, r.Prefix, r.Tier, Budget(r.MonthlyBudgetUSD), Date(r.ExpiresAt))
	fmt.Fprintln(e, "It is shown only now: zerocost stores its SHA-256 hash, never the key.")
	fmt.Fprintln(e, "Clients send it as `Authorization: Bearer <key>` or `x-api-key: <key>`.")
	return nil
}

// Prefixes lists the display prefixes of entries.
func Prefixes(es []apikeys.Entry) string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Record.Prefix
	}
	return strings.Join(out, ", ")
}
