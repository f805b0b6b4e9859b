package analytics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
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
