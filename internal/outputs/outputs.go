// Package outputs reads a deployed stack's outputs, as the Pulumi program in
// infra/ exports them (`pulumi stack output --json --show-secrets` prints the
// same document): one object per product, keyed by the product's name.
package outputs

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Product is what infra/ exports for one product.
type Product struct {
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
	URL     string `json:"url"`
	// KVNamespaceIDs maps a binding (JOBS, CACHE) to the namespace id.
	KVNamespaceIDs map[string]string `json:"kv_namespace_ids"`
	// R2Buckets maps a binding (OUTPUTS) to the bucket name.
	R2Buckets map[string]string `json:"r2_buckets"`
	// QueueIDs maps a queue name to its id (async-pipeline only).
	QueueIDs map[string]string `json:"queue_ids,omitempty"`
}

// Stack is a stack's outputs by product name.
type Stack map[string]Product

// Parse reads the outputs document. Keys that are not product objects (a
// user's own exports) are skipped.
func Parse(data []byte) (Stack, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("stack outputs are not a JSON object: %w", err)
	}
	out := Stack{}
	for name, msg := range raw {
		var p Product
		if err := json.Unmarshal(msg, &p); err != nil || p.Script == "" {
			continue
		}
		out[name] = p
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stack outputs name no zerocost product (was the stack deployed with `pulumi up`?)")
	}
	return out, nil
}

// ReadFile parses an outputs file.
func ReadFile(path string) (Stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Names lists the products in the outputs, sorted.
func (s Stack) Names() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
