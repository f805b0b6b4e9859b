package cfapi

import (
	"context"

	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
)

// KVNamespace is a Workers KV namespace.
type KVNamespace struct {
	ID    string
	Title string
}

// KVNamespaces lists the account's KV namespaces.
func (c *Client) KVNamespaces(ctx context.Context, account string) ([]KVNamespace, error) {
	svc := kv.NewNamespaceService(c.cfg.Options()...)
	var p kv.NamespaceListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	return listPaged(c, "list KV namespaces", func(opts ...option.RequestOption) error {
		_, err := svc.List(ctx, p, opts...)
		return err
	}, func(ns kv.Namespace) KVNamespace { return KVNamespace{ID: ns.ID, Title: ns.Title} })
}
