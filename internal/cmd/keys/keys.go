// Package keys is `zerocost keys`: a product's customer keys, kept as
// hashes in the product's KEYS namespace of Workers KV.
package keys

import (
	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/keys/create"
	"github.com/zerocost/zerocost/internal/cmd/keys/keysutil"
	"github.com/zerocost/zerocost/internal/cmd/keys/list"
	"github.com/zerocost/zerocost/internal/cmd/keys/revoke"
	"github.com/zerocost/zerocost/internal/cmd/keys/rotate"
	"github.com/zerocost/zerocost/internal/cmdutil"
)

// NewCmd returns `zerocost keys` and its subcommands.
func NewCmd(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, revoke and rotate a product's customer keys",
		Long: `Manage the keys a product's customers call it with. A product with
access: keys (the default) answers every request but GET /health only with a
live key, sent as ` + "`Authorization: Bearer <key>`" + ` or ` + "`x-api-key: <key>`" + `.

  create   issue a key for a customer and print it once
  list     the customers, key prefixes, dates and limits (never a key)
  revoke   revoke a customer's keys, or one key
  rotate   issue a customer a new key; the old ones expire after --grace

Only a key's SHA-256 hash is stored, in the product's KV namespace
<product>-<stack>-keys. On a deployed stack the commands call Cloudflare's KV
API with CLOUDFLARE_API_TOKEN (permission Workers KV Storage: Edit); the
namespace id comes from the stack's outputs, or --namespace-id. With --local
they call the stack's running ` + "`zerocost dev`" + ` instead, which serves the same API.

What each costs in Workers KV operations: every command lists the namespace
once per 1,000 keys; create writes 1 record (plus 1 per other live key of the
customer whose tier or budget it changes), revoke 1 per key it revokes, rotate
1 plus 1 per previous live key. Workers Free allows 1,000 KV writes and 1,000
lists a day (Cloudflare's KV pricing).

` + keysutil.RevocationBound,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(create.NewCmd(f, nil), list.NewCmd(f, nil), revoke.NewCmd(f, nil), rotate.NewCmd(f, nil))
	return cmd
}
