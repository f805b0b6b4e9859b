package devrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
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
	data, err := rec.Marshal()
	if err != nil {
		return err
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, part := range [][2]string{{"metadata", string(data)}, {"value", string(data)}} {
		if err := mw.WriteField(part[0], part[1]); err != nil {
			return err
		}
	}
	if err := mw.Close(); err != nil {
		return err
	}
	u := fmt.Sprintf("%saccounts/%s/storage/kv/namespaces/%s/values/%s", s.KVAPIURL, s.KVAccountID, p.KeysNamespaceID, url.PathEscape(apikeys.KVName(hash)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("PUT %s: HTTP %d %s", apikeys.KVName(hash), res.StatusCode, msg)
	}
	return nil
}
