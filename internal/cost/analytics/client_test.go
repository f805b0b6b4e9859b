package analytics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cfapi"
)

// The analytics client is set up as every Cloudflare client of zerocost: a
// bare origin gets /client/v4/, the token and user agent are sent, a 503 is
// retried, and a refused token is a *cfapi.APIError that says which
// permission is missing.
func TestClientUsesTheSharedSetup(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Path != "/client/v4/accounts/acct/analytics_engine/sql" || (r.Header.Get("Authorization") != "Bearer tok" && r.Header.Get("Authorization") != "Bearer wrong") || r.Header.Get("User-Agent") != cfapi.UserAgent {
			t.Errorf("%s %s, Authorization %q, User-Agent %q", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("User-Agent"))
		}
		switch {
		case r.Header.Get("Authorization") == "Bearer wrong":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`)
		case n == 1:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, `{"meta":[{"name":"n","type":"UInt64"}],"data":[{"n":"1"}],"rows":1}`)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c := &Client{BaseURL: srv.URL, Token: "tok", AccountID: "acct", MaxRetries: -1}
	res, err := c.SQL(ctx, "SELECT 1")
	if err != nil || res.Rows != 1 || calls.Load() != 2 {
		t.Fatalf("%+v %v after %d calls", res, err, calls.Load())
	}
	c.Token = "wrong"
	_, err = c.SQL(ctx, "SELECT 1")
	var ae *cfapi.APIError
	if !errors.As(err, &ae) || !ae.HasCode(10000) || !cfapi.IsAuth(err) {
		t.Fatalf("refused token: %v", err)
	}
	if want := SQLWhat + ": Cloudflare answered HTTP 403: Authentication error (code 10000) (" + AuthHint + ")"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// A query declares the variable its name filter uses, and filters by it.
func TestQueryDeclaresItsNameFilter(t *testing.T) {
	q := Query(R2OpsDataset, "bucketName_in: $buckets", "sum { requests }", "dimensions { bucketName }")
	for _, want := range []string{
		"query ($accountTag: string!, $start: Time!, $end: Time!, $buckets: [string!]) {",
		"r2OperationsAdaptiveGroups(limit: 10000, filter: {datetime_geq: $start, datetime_lt: $end, bucketName_in: $buckets}) {",
		"sum { requests }\n        dimensions { bucketName }\n",
	} {
		if !strings.Contains(q, want) {
			t.Errorf("query lacks %q:\n%s", want, q)
		}
	}
	if q := Query(WorkersDataset, "", "sum { requests }"); strings.Contains(q, "[string!]") || !strings.Contains(q, "filter: {datetime_geq: $start, datetime_lt: $end}") {
		t.Errorf("a query without names declares or filters by them:\n%s", q)
	}
}
