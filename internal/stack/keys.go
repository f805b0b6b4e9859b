package stack

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// The keys of a product and of its nested objects are the json tags of
// Product, Settings, Route and CustomDomain: the structs are the schema, so a
// field added there is a known key at once.
var (
	productKeys      = jsonKeys(reflect.TypeFor[Product]())
	settingsKeys     = jsonKeys(reflect.TypeFor[Settings]())
	routeKeys        = jsonKeys(reflect.TypeFor[Route]())
	customDomainKeys = jsonKeys(reflect.TypeFor[CustomDomain]())
)

// nestedKeys are the product keys whose value is an object with keys of its own.
var nestedKeys = map[string][]string{
	"settings":     settingsKeys,
	"route":        routeKeys,
	"customDomain": customDomainKeys,
}

// removedSettings are the settings zerocost once had, with why each went: a
// stack that still sets one gets this error instead of "unknown field", so the
// upgrade says what to do. Keys are the settings' json names.
var removedSettings = map[string]string{
	"jobTtlSeconds": "job records live in R2 (jobs/<id>.json), with no TTL to set, " +
		"and a job with no record yet reads queued for a fixed window the Worker derives; delete the setting",
	"kvInlineMaxBytes": "edge-cache keeps its answers in R2 and the Cache API, not in KV, " +
		"so there is no inline size to set; delete the setting",
}

// removedSetting returns the removed setting key stands for (the same but for
// case, '_' and '-', or a typo of it) and why it went, or "" when key is no
// removed setting or is nearer a setting zerocost has.
func removedSetting(key string) (name, why string) {
	name = suggest(key, slices.Sorted(maps.Keys(removedSettings)))
	if name == "" {
		return "", ""
	}
	nk := normalizeKey(key)
	if s := suggest(key, settingsKeys); s != "" && editDistance(nk, normalizeKey(s)) <= editDistance(nk, normalizeKey(name)) {
		return "", ""
	}
	return name, removedSettings[name]
}

// removedErr is the error for a setting zerocost no longer has.
func removedErr(field, name, why string) *Error {
	return errf(field, "%s was removed: %s", name, why)
}

// jsonKeys lists the json names of a struct's exported fields, sorted.
func jsonKeys(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// unknownProductKeys reports every key of a product (raw JSON) that is not
// one of Product's, and every unknown key of its settings, route and
// customDomain, each with its full path (field is the product's, e.g.
// "zerocost:products[0]") and the key that was most likely meant. A value of
// the wrong shape is left to the decoder, which reports it.
func unknownProductKeys(field string, raw json.RawMessage) []error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !contains(productKeys, k) {
			if name, why := removedSetting(k); name != "" && suggest(k, productKeys) == "" {
				// A removed setting, one level too high.
				errs = append(errs, removedErr(keyPath(field, k), name, why))
				continue
			}
			hint := suggest(k, productKeys)
			if hint == "" {
				// A setting one level too high.
				if s := suggest(k, settingsKeys); s != "" && normalizeKey(s) == normalizeKey(k) {
					hint = "settings." + s
				}
			}
			errs = append(errs, unknownKey(keyPath(field, k), "unknown field", hint, productKeys))
			continue
		}
		known, nested := nestedKeys[k]
		if !nested {
			continue
		}
		var sub map[string]json.RawMessage
		if json.Unmarshal(obj[k], &sub) != nil {
			continue
		}
		for _, sk := range slices.Sorted(maps.Keys(sub)) {
			if !contains(known, sk) {
				if k == "settings" {
					if name, why := removedSetting(sk); name != "" {
						errs = append(errs, removedErr(keyPath(keyPath(field, k), sk), name, why))
						continue
					}
				}
				errs = append(errs, unknownKey(keyPath(keyPath(field, k), sk), "unknown field", suggest(sk, known), known))
			}
		}
	}
	return errs
}

// unknownKey is the error for an unknown key: what it is, then the key that
// was meant or, when none is near, the keys there are.
func unknownKey(field, what, hint string, known []string) *Error {
	if hint != "" {
		return errf(field, "%s; did you mean %s?", what, hint)
	}
	return errf(field, "%s (known: %s)", what, strings.Join(known, ", "))
}

// keyPath appends a key to a field path: .key, or ["key"] when the key is
// not a plain name.
func keyPath(field, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return field + "." + key
	}
	return fmt.Sprintf("%s[%q]", field, key)
}

// suggest returns the known key meant by key, or "": first one equal to it
// but for case, '_' and '-' (cacheTTLSeconds, cache_ttl_seconds), else the
// nearest by edit distance (insertions, deletions, substitutions and swaps of
// neighbours, ignoring case), when it is near enough to be a typo: one edit
// for keys of up to five characters, two up to twelve, three beyond; else the
// one known key that starts or ends with it (four characters at least).
func suggest(key string, known []string) string {
	nk := normalizeKey(key)
	if nk == "" {
		return ""
	}
	for _, k := range known {
		if normalizeKey(k) == nk {
			return k
		}
	}
	limit := 1
	switch n := len([]rune(nk)); {
	case n > 12:
		limit = 3
	case n > 5:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(nk, normalizeKey(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" || len(nk) < 4 {
		return best
	}
	// A key cut short or missing its first word (zone, host, prompt), when
	// only one known key fits.
	for _, k := range known {
		if n := normalizeKey(k); strings.HasPrefix(n, nk) || strings.HasSuffix(n, nk) {
			if best != "" {
				return ""
			}
			best = k
		}
	}
	return best
}

func normalizeKey(s string) string {
	s = strings.ToLower(s)
	return strings.NewReplacer("_", "", "-", "").Replace(s)
}

// editDistance is the optimal string alignment distance between a and b:
// Levenshtein's, with a swap of two neighbouring characters counted as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
