package stack

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Access modes of a product (its access field).
const (
	// AccessKeys: every request but GET /health needs a customer key,
	// checked against the product's KV namespace (bound as KEYS).
	AccessKeys = "keys"
	// AccessPublic: no key; chosen explicitly.
	AccessPublic = "public"
)

// AccessModes lists the access modes.
var AccessModes = []string{AccessKeys, AccessPublic}

// DefaultAccess is a product's access when unset.
const DefaultAccess = AccessKeys

// DefaultTier is the tier a key gets when none is given, and the one tier
// of a product with keys that sets no tiers.
const DefaultTier = "standard"

// DefaultTierPerMinute is DefaultTier's door limit when the product sets no
// tiers: requests a minute per customer, twice the default model limiter
// (DefaultRateLimitPerMinute), so that cache hits are not held back by it.
const DefaultTierPerMinute = 120

// maxTiers bounds a product's tiers: each is one ratelimit binding (and one
// ratelimit namespace id of the account). zerocost's bound, not Cloudflare's.
const maxTiers = 8

// tierRe: a tier's name becomes the binding DOOR_<NAME>, so a short
// lower-case identifier.
var tierRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// HasKeys says whether the product checks customer keys.
func (p *Product) HasKeys() bool { return p.Access == AccessKeys }

// TierNames lists the product's tiers, sorted.
func (p *Product) TierNames() []string { return slices.Sorted(maps.Keys(p.Tiers)) }

// defaultAccess: keys unless set; a product with keys and no tiers gets the
// default tier.
func (p *Product) defaultAccess() {
	if p.Access == "" {
		p.Access = DefaultAccess
	}
	if p.HasKeys() && len(p.Tiers) == 0 {
		p.Tiers = map[string]int{DefaultTier: DefaultTierPerMinute}
	}
}

// validateAccess checks access and tiers (defaults applied).
func (p *Product) validateAccess(field string) []error {
	if !slices.Contains(AccessModes, p.Access) {
		return []error{errf(field+".access", "%q is not an access mode (one of: %s)", p.Access, strings.Join(AccessModes, ", "))}
	}
	if !p.HasKeys() {
		if len(p.Tiers) > 0 {
			return []error{errf(field+".tiers", "a public product has no customer keys, so no tiers: delete tiers or set access: keys")}
		}
		return nil
	}
	var errs []error
	if len(p.Tiers) > maxTiers {
		errs = append(errs, errf(field+".tiers", "has %d tiers; zerocost allows %d (each is a ratelimit binding)", len(p.Tiers), maxTiers))
	}
	for _, name := range p.TierNames() {
		if name == "limiter" {
			// DOOR_LIMITER is the per-caller door every product has.
			errs = append(errs, errf(field+".tiers", "%q is taken: its binding would be DOOR_LIMITER, the product's per-caller door", name))
		}
		if !tierRe.MatchString(name) {
			errs = append(errs, errf(field+".tiers", "%q is not a tier name: a lower-case letter, then up to 31 lower-case letters, digits or '_' (as `zerocost keys create --tier` takes)", name))
		}
		if n := p.Tiers[name]; n < 1 || n > 1_000_000 {
			errs = append(errs, errf(fmt.Sprintf("%s.tiers.%s", field, name), "%d is out of range 1..1000000 (requests a minute per customer)", n))
		} else if p.Pattern == AsyncPipeline && n < MaxJobsPerPost {
			// The tier is the customer's one door, and a pipeline's door
			// counts jobs (workers-src/src/lib/door.ts), as doorLimitPerMinute's.
			errs = append(errs, errf(fmt.Sprintf("%s.tiers.%s", field, name), "%d is below %d: an async pipeline's tier counts jobs a minute per customer, and one POST /jobs carries up to %d (the Worker's MAX_BATCH_INPUTS)", n, MaxJobsPerPost, MaxJobsPerPost))
		}
	}
	return errs
}
