// Package outputs is a deployed stack's outputs: one Product per product,
// keyed by the product's name. The Pulumi program in infra/ builds each
// product's export as a Product (the SDK marshals it by its pulumi tags, which
// are its JSON keys), and `pulumi stack output --json` prints the document
// Parse reads back, so both sides share this one type.
package outputs

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

// Product is what infra/ exports for one product: names and ids only, never
// a secret (infra's tests check the values it exports).
type Product struct {
	Pattern string `json:"pattern" pulumi:"pattern"`
	Script  string `json:"script" pulumi:"script"`
	URL     string `json:"url" pulumi:"url"`
	// R2Buckets maps a binding (OUTPUTS) to the bucket name.
	R2Buckets map[string]string `json:"r2_buckets" pulumi:"r2_buckets"`
	// QueueIDs maps a queue name to its id (async-pipeline only; nil, and
	// absent from the export, otherwise).
	QueueIDs map[string]string `json:"queue_ids,omitempty" pulumi:"queue_ids"`
	// D1DatabaseIDs maps a D1 binding (SPEND) to the database's uuid: the
	// stack's spend database, the same for every product (nil, and absent
	// from the export, when the stack has no budget).
	D1DatabaseIDs map[string]string `json:"d1_database_ids,omitempty" pulumi:"d1_database_ids"`
	// KVNamespaceIDs maps a KV binding (KEYS) to the namespace's id (nil,
	// and absent from the export, for a public product).
	KVNamespaceIDs map[string]string `json:"kv_namespace_ids,omitempty" pulumi:"kv_namespace_ids"`
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
