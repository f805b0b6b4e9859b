package verifytest

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
)

// kvValuePath is Cloudflare's KV write path: .../accounts/{a}/storage/kv/namespaces/{ns}/values/{key}.
var kvValuePath = regexp.MustCompile(`/accounts/[^/]+/storage/kv/namespaces/([^/]+)/values/(.+)$`)

// Propagation is an http.RoundTripper for the client of a deployed verify
// in tests: the fake Cloudflare API (internal/cftest) holds what the
// client writes into a KEYS namespace, as KV's central store would, and
// Propagation then writes the same pair into the running Workers' KV (the
// dev runtime's KV API), as KV's propagation to the edge would, so the
// real Workers read the keys verify wrote. Writes whose namespace the
// outputs do not name as a KEYS namespace pass through alone.
type Propagation struct {
	Next http.RoundTripper
	// ns maps a fake KEYS namespace id to the runtime's.
	ns     map[string]string
	kvBase string
	acct   string

	mu     sync.Mutex
	writes int
}

// NewPropagation joins the outputs' KEYS namespaces (in the fake account)
// to the runtime's, by product.
func NewPropagation(t testing.TB, rt *devrun.Runtime, out outputs.Stack) *Propagation {
	t.Helper()
	st, err := devrun.ReadStateFile(rt.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	p := &Propagation{Next: http.DefaultTransport, ns: map[string]string{}, kvBase: st.KVAPIURL, acct: st.KVAccountID}
	for name, op := range out {
		if dp := st.Product(name); dp != nil && dp.KeysNamespaceID != "" && op.KVNamespaceIDs[contract.Keys] != "" {
			p.ns[op.KVNamespaceIDs[contract.Keys]] = dp.KeysNamespaceID
		}
	}
	return p
}

// Writes is how many writes were propagated.
func (p *Propagation) Writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// RoundTrip sends the request, and a successful KV write to the runtime too.
func (p *Propagation) RoundTrip(req *http.Request) (*http.Response, error) {
	m := kvValuePath.FindStringSubmatch(req.URL.EscapedPath())
	local := ""
	if m != nil {
		local = p.ns[m[1]]
	}
	if req.Method != http.MethodPut || local == "" {
		return p.Next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	res, err := p.Next.RoundTrip(r)
	if err != nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	dev, err := http.NewRequestWithContext(req.Context(), http.MethodPut,
		strings.TrimSuffix(p.kvBase, "/")+"/accounts/"+p.acct+"/storage/kv/namespaces/"+local+"/values/"+m[2], bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	dev.Header.Set("Content-Type", req.Header.Get("Content-Type"))
	dres, err := p.Next.RoundTrip(dev)
	if err != nil {
		res.Body.Close()
		return nil, err
	}
	dres.Body.Close()
	if dres.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, &propagationError{status: dres.StatusCode}
	}
	p.mu.Lock()
	p.writes++
	p.mu.Unlock()
	return res, nil
}

type propagationError struct{ status int }

func (e *propagationError) Error() string {
	return "propagating a KV write to the Workers' KV: HTTP " + http.StatusText(e.status)
}
