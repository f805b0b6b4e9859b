package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zerocost/zerocost/internal/cfapi"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/plan"
	zverify "github.com/zerocost/zerocost/internal/verify"
)

// ownKeys lets verify make its own short-lived keys for the keyed
// products of a deployed stack, through Cloudflare's KV API with
// CLOUDFLARE_API_TOKEN and the KEYS namespace ids of the outputs. Without
// them it says so: those products get the health and no-key checks only.
func (o *Options) ownKeys(p *plan.Plan, out outputs.Stack, vo *zverify.Options) error {
	var keyed []string
	for _, pr := range p.Products {
		if pr.HasKeys() && (len(o.Products) == 0 || slices.Contains(o.Products, pr.Name)) {
			keyed = append(keyed, pr.Name)
		}
	}
	if len(keyed) == 0 || o.SkipRoutes {
		return nil
	}
	why := ""
	token := o.F.Env(cfapi.EnvToken)
	switch {
	case token == "":
		why = cfapi.EnvToken + " is not set (verify writes its keys with it: Workers KV Storage: Edit)"
	case out == nil:
		why = "no stack outputs name their KEYS namespaces"
	}
	if why != "" {
		fmt.Fprintf(o.F.IO.ErrOut, "zerocost verify: %s: verify makes no key of its own, so %s get the health and no-key checks only\n", why, strings.Join(keyed, ", "))
		return nil
	}
	base, err := o.apiURL()
	if err != nil {
		return cmdutil.ConfigError(err)
	}
	cfg := cfapi.Config{Token: token, BaseURL: base, HTTPClient: o.F.Client(), MaxRetries: -1,
		AuthHint: "verify writes its own short-lived keys: the token needs the permission Workers KV Storage: Edit"}
	vo.Target.PutKey = zverify.KVKeyWriter(cfg, p.AccountID, zverify.KeysNamespaces(out))
	vo.WaitRevocation = o.WaitRevocation
	return nil
}
