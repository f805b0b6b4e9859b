package cftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ---- R2 bucket lifecycle rules ----
//
// PUT replaces the bucket's rules; GET answers them exactly as sent, in
// order (provider-calls.md, cloudflare_r2_bucket_lifecycle). The provider's
// Delete sends no request, so there is no DELETE.

// lifecycleRule is what the fake checks of a rule; the rule itself is kept
// as sent.
type lifecycleRule struct {
	ID         *string `json:"id"`
	Enabled    *bool   `json:"enabled"`
	Conditions *struct {
		Prefix *string `json:"prefix"`
	} `json:"conditions"`
	Abort *struct {
		Condition *lifecycleCondition `json:"condition"`
	} `json:"abortMultipartUploadsTransition"`
	Delete *struct {
		Condition *lifecycleCondition `json:"condition"`
	} `json:"deleteObjectsTransition"`
	StorageClass []struct {
		Condition    *lifecycleCondition `json:"condition"`
		StorageClass string              `json:"storageClass"`
	} `json:"storageClassTransitions"`
}

type lifecycleCondition struct {
	Type   string `json:"type"`
	MaxAge *int64 `json:"maxAge"`
	Date   string `json:"date"`
}

// check returns what is wrong with the condition; abort allows Age only.
func (c *lifecycleCondition) check(what string, ageOnly bool) string {
	switch {
	case c == nil:
		return what + ": condition is required"
	case c.Type == "Age":
		if c.MaxAge == nil || *c.MaxAge <= 0 {
			return what + ": an Age condition needs maxAge, seconds > 0"
		}
	case c.Type == "Date" && !ageOnly:
		if _, err := time.Parse(time.RFC3339, c.Date); err != nil {
			return what + ": a Date condition needs date in RFC 3339"
		}
	default:
		return fmt.Sprintf("%s: condition type %q is not allowed", what, c.Type)
	}
	return ""
}

func (r lifecycleRule) check(i int) string {
	at := fmt.Sprintf("rules[%d]", i)
	switch {
	case r.ID == nil || *r.ID == "":
		return at + ": id is required"
	case r.Enabled == nil:
		return at + ": enabled is required"
	case r.Conditions == nil || r.Conditions.Prefix == nil:
		return at + ": conditions.prefix is required"
	}
	if r.Abort != nil {
		if p := r.Abort.Condition.check(at+".abortMultipartUploadsTransition", true); p != "" {
			return p
		}
	}
	if r.Delete != nil {
		if p := r.Delete.Condition.check(at+".deleteObjectsTransition", false); p != "" {
			return p
		}
	}
	for k, sc := range r.StorageClass {
		if sc.StorageClass != "InfrequentAccess" {
			return fmt.Sprintf("%s.storageClassTransitions[%d]: storageClass %q is not InfrequentAccess", at, k, sc.StorageClass)
		}
		if p := sc.Condition.check(fmt.Sprintf("%s.storageClassTransitions[%d]", at, k), false); p != "" {
			return p
		}
	}
	return ""
}

var (
	lifecycleGet = buckets.on(func(_ *call, b *Bucket) reply {
		if b.Lifecycle == nil {
			return ok(map[string]any{"rules": []any{}})
		}
		return ok(map[string]json.RawMessage{"rules": b.Lifecycle})
	})
	lifecyclePut = buckets.on(func(c *call, b *Bucket) reply {
		raw, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
		var body struct {
			Rules json.RawMessage `json:"rules"`
		}
		if err != nil || json.Unmarshal(raw, &body) != nil {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		var rules []lifecycleRule
		if len(body.Rules) > 0 && !bytes.Equal(body.Rules, []byte("null")) {
			if json.Unmarshal(body.Rules, &rules) != nil {
				return invalidBody("rules must be a list of rules")
			}
		}
		seen := map[string]bool{}
		for i, r := range rules {
			if p := r.check(i); p != "" {
				return invalidBody(p)
			}
			if seen[*r.ID] {
				return invalidBody(fmt.Sprintf("rules[%d]: id %q is used twice", i, *r.ID))
			}
			seen[*r.ID] = true
		}
		if bytes.Equal(body.Rules, []byte("null")) {
			body.Rules = nil
		}
		b.Lifecycle = body.Rules
		if b.Lifecycle == nil {
			b.Lifecycle = json.RawMessage("null")
		}
		return ok(map[string]any{})
	})
)
