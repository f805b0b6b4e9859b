package cfapi

import (
	"context"

	"github.com/cloudflare/cloudflare-go/v7/kv"
)

// KVNamespace is a Workers KV namespace.
type KVNamespace struct {
	ID    string
	Title string
}

// KVNamespaces lists the account's KV namespaces.
func (c *Client) KVNamespaces(ctx context.Context, account string) ([]KVNamespace, error) {
	const op = "list KV namespaces"
	svc := kv.NewNamespaceService(c.cfg.Options()...)
	var p kv.NamespaceListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	return pageAll(op, func(page int) ([]KVNamespace, string, error) {
		res, err := svc.List(ctx, p, pageOpts(page)...)
		if err != nil {
			return nil, "", c.wrap(op, err)
		}
		out := make([]KVNamespace, 0, len(res.Result))
		for _, ns := range res.Result {
			out = append(out, KVNamespace{ID: ns.ID, Title: ns.Title})
		}
		return out, res.JSON.RawJSON(), nil
	})
}
