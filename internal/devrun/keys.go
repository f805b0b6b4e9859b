package devrun

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/plan"
	"github.com/zerocost/zerocost/internal/render"
)

// DevCustomer is the customer of the key zerocost dev creates for each
// product with keys at start.
const DevCustomer = "dev"

// runnerKey is a key record the runner writes into a Worker's KEYS
// namespace before it reports ready: the KV name (k:<hash>) and the record,
// as value and metadata. The key itself never reaches the runner's config.
type runnerKey struct {
	Worker  string          `json:"worker"`
	Binding string          `json:"binding"`
	Name    string          `json:"name"`
	Record  json.RawMessage `json:"record"`
}

// devKeys makes one key per product with keys (customer DevCustomer, the
// default tier, no budget, no expiry) and returns the records for the
// runner and the keys by product, which only the state file and the JSON
// line hold.
func devKeys(p *plan.Plan, now time.Time) ([]runnerKey, map[string]string, error) {
	var recs []runnerKey
	keys := map[string]string{}
	for _, pr := range p.Products {
		if pr.KeysNamespace() == "" {
			continue
		}
		key, err := apikeys.Generate(nil)
		if err != nil {
			return nil, nil, err
		}
		rec := apikeys.Record{V: apikeys.RecordVersion, Customer: DevCustomer, Prefix: apikeys.DisplayPrefix(key),
			Product: pr.Name, Tier: apikeys.DefaultTier, CreatedAt: apikeys.Stamp(now)}
		data, err := rec.Marshal()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pr.Name, err)
		}
		recs = append(recs, runnerKey{Worker: pr.Script, Binding: contract.Keys, Name: apikeys.KVName(apikeys.Hash(key)), Record: data})
		keys[pr.Name] = key
	}
	return recs, keys, nil
}

// keysNamespaceID is the local id of a product's KEYS namespace, "" when public.
func keysNamespaceID(pr *plan.Product) string {
	if t := pr.KeysNamespace(); t != "" {
		return render.LocalNamespaceID(t)
	}
	return ""
}

// PutKey writes a key record into a product's KEYS namespace through the
// running dev's KV API (Cloudflare's write call: PUT .../values/<name>,
// multipart with the value and the metadata), as `zerocost keys --local`
// does.
func (s *State) PutKey(ctx context.Context, product, hash string, rec apikeys.Record) error {
	p := s.Product(product)
	if s.KVAPIURL == "" || p == nil || p.KeysNamespaceID == "" {
		return fmt.Errorf("the zerocost dev of stack %s serves no KEYS namespace for %s", s.Stack, product)
	}
	// The same client as `zerocost keys --local`: cloudflare-go's kv package.
	store := apikeys.NewStore(cfapi.Config{Token: "zerocost-dev", BaseURL: s.KVAPIURL}, s.KVAccountID, p.KeysNamespaceID)
	return store.Put(ctx, hash, rec)
}
