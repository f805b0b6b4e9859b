package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
)

// KVKeyWriter is Target.PutKey for a deployed stack: it writes a product's
// key records into its KEYS namespace (namespaces: by product, as
// KeysNamespaces reads them from the outputs) through Cloudflare's KV API;
// cfg's token needs Workers KV Storage: Edit. A record with expires_at is
// written so that KV deletes it then too.
func KVKeyWriter(cfg cfapi.Config, account string, namespaces map[string]string) func(ctx context.Context, product, hash string, rec apikeys.Record) error {
	return func(ctx context.Context, product, hash string, rec apikeys.Record) error {
		ns := namespaces[product]
		if ns == "" {
			return fmt.Errorf("the stack outputs name no KEYS namespace for %s", product)
		}
		store := apikeys.NewStore(cfg, account, ns)
		if rec.ExpiresAt != nil {
			return store.PutUntil(ctx, hash, rec, *rec.ExpiresAt, time.Now())
		}
		return store.Put(ctx, hash, rec)
	}
}
