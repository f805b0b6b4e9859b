package plan

import (
	"fmt"
	"strings"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/stack"
)

// HasKeys says whether the product checks customer keys.
func (pr *Product) HasKeys() bool { return pr.Access == stack.AccessKeys }

// KeysNamespace is the title of the product's keys namespace, "" when public.
func (pr *Product) KeysNamespace() string {
	for _, ns := range pr.KVNamespaces {
		if ns.Binding == contract.Keys {
			return ns.Title
		}
	}
	return ""
}

// Doors lists the product's tier door limiters (DOOR_<TIER>; not the
// per-caller DOOR_LIMITER every product has), in binding order.
func (pr *Product) Doors() []Binding {
	var out []Binding
	for _, b := range pr.Bindings {
		if b.Type == RateLimit && strings.HasPrefix(b.Name, contract.DoorPrefix) && b.Name != contract.DoorLimiter {
			out = append(out, b)
		}
	}
	return out
}

// checkAccess: the ACCESS var says the product's access, and a product with
// keys binds its keys namespace, the failed-check limiter and a door per
// tier; a public product binds none of them.
func (pr *Product) checkAccess() []string {
	var out []string
	if v := pr.Var(contract.VarAccess); v != pr.Access {
		out = append(out, fmt.Sprintf("var %s is %q but the product's access is %q", contract.VarAccess, v, pr.Access))
	}
	kv, fails := pr.Binding(contract.Keys), pr.Binding(contract.KeyFailures)
	if !pr.HasKeys() {
		if kv != nil || fails != nil || len(pr.Doors()) > 0 {
			out = append(out, "a public product binds no KEYS, KEY_FAILURES or DOOR_ limiters")
		}
		return out
	}
	if kv == nil || kv.Type != KV {
		out = append(out, fmt.Sprintf("access keys needs a %s binding named %s (the customer keys)", KV, contract.Keys))
	}
	if fails == nil || fails.Type != RateLimit {
		out = append(out, fmt.Sprintf("access keys needs a %s binding named %s", RateLimit, contract.KeyFailures))
	}
	if len(pr.Doors()) == 0 {
		out = append(out, "access keys needs a door limiter (DOOR_<TIER>) per tier")
	}
	return out
}

// accessWarnings: a public product without a budget can be run up by anyone
// who finds its URL; a stack with zerocost:authToken used to guard every
// route with it, and now guards the admin routes only.
func (p *Plan) accessWarnings(hasAuthToken bool) []string {
	var out []string
	var keyed []string
	for _, pr := range p.Products {
		if pr.HasKeys() {
			keyed = append(keyed, pr.Name)
			continue
		}
		if p.MonthlyBudgetUSD <= 0 && pr.Settings.MonthlyBudgetUSD <= 0 {
			out = append(out, fmt.Sprintf("%s is public (access: public) and has no budget: anyone with its URL can spend the model's money; set settings.monthlyBudgetUsd or zerocost:monthlyBudgetUsd, or use access: keys", pr.Name))
		}
	}
	if hasAuthToken {
		msg := "zerocost:authToken now guards the admin routes (/admin/...) only, not every route"
		if len(keyed) > 0 {
			msg += fmt.Sprintf("; %s take customer keys instead (access: keys, the default): create them with `zerocost keys create`", strings.Join(keyed, ", "))
		}
		out = append(out, msg+" (README: \"Customer keys\", migration)")
	}
	return out
}
