package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/outputs"
)

// kvKeyWriter is Target.PutKey for a deployed stack: it writes a product's
// records into its KEYS namespace, whose id the outputs name, through
// Cloudflare's KV API (cfg needs a token with Workers KV Storage: Edit).
// A record with expires_at is written so that KV deletes it then too.
func kvKeyWriter(cfg cfapi.Config, account string, out outputs.Stack) func(ctx context.Context, product, hash string, rec apikeys.Record) error {
	return func(ctx context.Context, product, hash string, rec apikeys.Record) error {
		ns := out[product].KVNamespaceIDs[contract.Keys]
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
