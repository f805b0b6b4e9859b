package keysutil

import (
	"errors"
	"fmt"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
)

// devToken is sent to zerocost dev's KV endpoints, which take any token.
const devToken = "zerocost-dev"

// outputsNamespace reads the product's KEYS namespace id from the stack's
// outputs (--outputs, else the pulumi CLI).
func (t *Target) outputsNamespace(projectDir string) (string, error) {
	out, err := outputs.Read(t.Ctx(), t.OutputsFile, t.Outputs, projectDir, t.Stack)
	if err != nil {
		return "", cmdutil.ConfigError(fmt.Errorf("%w\n(or pass the namespace id with --namespace-id ID)", err))
	}
	p, ok := out[t.Product]
	if !ok {
		return "", cmdutil.ConfigError(fmt.Errorf("%s is not in the stack outputs: is it deployed (`pulumi up`)?", t.Product))
	}
	id := keysNamespaceID(p)
	if id == "" {
		return "", cmdutil.ConfigError(fmt.Errorf("the stack outputs name no KEYS namespace for %s: is it deployed with access: keys by this version of zerocost? (or pass --namespace-id ID)", t.Product))
	}
	return id, nil
}

// keysNamespaceID is the KEYS namespace id a product's outputs export.
func keysNamespaceID(p outputs.Product) string { return p.KVNamespaceIDs[contract.Keys] }

// localNamespace is the namespace of the stack's running zerocost dev.
func (t *Target) localNamespace(projectDir, planAccount string) (namespace, error) {
	path := t.StateFile
	if path == "" {
		path = devrun.StatePath(projectDir, t.Stack)
	}
	st, err := devrun.ReadStateFile(path)
	if errors.Is(err, devrun.ErrNotRunning) {
		return namespace{}, cmdutil.ConfigError(fmt.Errorf("no zerocost dev running for stack %s: start it with `zerocost dev --stack %s`", t.Stack, t.Stack))
	}
	if err != nil {
		return namespace{}, cmdutil.ConfigError(fmt.Errorf("reading the state of zerocost dev: %w", err))
	}
	if st.KVAPIURL == "" {
		return namespace{}, cmdutil.ConfigError(fmt.Errorf("the zerocost dev of stack %s serves no KV API (it was started by an older zerocost): restart it", t.Stack))
	}
	for _, p := range st.Products {
		if p.Name == t.Product && p.KeysNamespaceID != "" {
			acct := st.KVAccountID
			if acct == "" {
				acct = planAccount
			}
			return namespace{baseURL: st.KVAPIURL, token: devToken, account: acct, id: p.KeysNamespaceID}, nil
		}
	}
	return namespace{}, cmdutil.ConfigError(fmt.Errorf("%s has no KEYS namespace in the zerocost dev of stack %s: is it running, with access: keys?", t.Product, t.Stack))
}
