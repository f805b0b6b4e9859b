package cfapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/r2"
)

// LifecycleRule is one of a bucket's object lifecycle rules, as much of it
// as zerocost sets: objects under Prefix are deleted once DeleteMaxAge
// seconds old (0: the rule deletes nothing by age).
type LifecycleRule struct {
	ID           string
	Prefix       string
	Enabled      bool
	DeleteMaxAge int
}

// BucketLifecycle reads the lifecycle rules of a bucket in the default
// jurisdiction, in the API's order; a missing bucket is an *APIError for
// which IsNotFound is true.
func (c *Client) BucketLifecycle(ctx context.Context, account, bucket string) ([]LifecycleRule, error) {
	op := "read lifecycle rules of R2 bucket " + bucket
	var p r2.BucketLifecycleGetParams
	p.AccountID.Value, p.AccountID.Present = account, true
	p.Jurisdiction.Value, p.Jurisdiction.Present = r2.BucketLifecycleGetParamsCfR2JurisdictionDefault, true
	var raw []byte
	if _, err := c.buckets.Lifecycle.Get(ctx, bucket, p, option.WithResponseBodyInto(&raw)); err != nil {
		return nil, c.wrap(op, err)
	}
	var env struct {
		Result struct {
			Rules []struct {
				ID         string `json:"id"`
				Enabled    bool   `json:"enabled"`
				Conditions struct {
					Prefix string `json:"prefix"`
				} `json:"conditions"`
				Delete *struct {
					Condition struct {
						Type   string  `json:"type"`
						MaxAge float64 `json:"maxAge"`
					} `json:"condition"`
				} `json:"deleteObjectsTransition"`
			} `json:"rules"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := []LifecycleRule{}
	for _, r := range env.Result.Rules {
		lr := LifecycleRule{ID: r.ID, Prefix: r.Conditions.Prefix, Enabled: r.Enabled}
		if r.Delete != nil && r.Delete.Condition.Type == "Age" {
			lr.DeleteMaxAge = int(r.Delete.Condition.MaxAge)
		}
		out = append(out, lr)
	}
	return out, nil
}
