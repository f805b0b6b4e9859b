package cftest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/r2"
)

// TestR2BucketLifecycleLikeTheProvider: PUT replaces the rules and GET
// answers them exactly as sent, in order; {"rules":null} (every rule removed
// from the config) turns expiry off; bad rules are a 400; an unknown bucket
// is R2's 404.
func TestR2BucketLifecycleLikeTheProvider(t *testing.T) {
	s, _, _, _ := providerServer(t)
	ls := r2.NewBucketLifecycleService(sdkOpts(s)...)
	def := option.WithHeader("cf-r2-jurisdiction", "default")
	var up r2.BucketLifecycleUpdateParams
	up.AccountID.Value, up.AccountID.Present = acct, true
	var gp r2.BucketLifecycleGetParams
	gp.AccountID.Value, gp.AccountID.Present = acct, true
	get := func() string {
		t.Helper()
		_, raw := rawGet(t, s, "/accounts/"+acct+"/r2/buckets/p-outputs/lifecycle", "application/json")
		var env struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		return string(env.Result)
	}
	if got := get(); got != `{"rules":[]}` {
		t.Errorf("before any PUT: %s", got)
	}
	rules := `[{"conditions":{"prefix":"jobs/"},"deleteObjectsTransition":{"condition":{"maxAge":604800,"type":"Age"}},"enabled":true,"id":"jobs"},` +
		`{"conditions":{"prefix":""},"enabled":false,"id":"all","storageClassTransitions":[]}]`
	if _, err := ls.Update(tctx(t), "p-outputs", up, def, body(`{"rules":`+rules+`}`)); err != nil {
		t.Fatalf("put: %v", err)
	}
	if got := get(); got != `{"rules":`+rules+`}` {
		t.Errorf("read back %s\nwant {\"rules\":%s}", got, rules)
	}
	if res, err := ls.Get(tctx(t), "p-outputs", gp, def); err != nil || len(res.Rules) != 2 || res.Rules[0].Conditions.Prefix != "jobs/" {
		t.Errorf("SDK get: %+v %v", res, err)
	}
	if _, err := ls.Update(tctx(t), "p-outputs", up, def, body(`{"rules":null}`)); err != nil {
		t.Fatalf("put null: %v", err)
	}
	if got := get(); got != `{"rules":null}` {
		t.Errorf("after rules null: %s", got)
	}
	var re *r2.Error
	for _, bad := range []string{
		`{"rules":[{"conditions":{"prefix":"a/"},"enabled":true}]}`,
		`{"rules":[{"id":"x","enabled":true}]}`,
		`{"rules":[{"id":"x","conditions":{"prefix":""},"enabled":true,"deleteObjectsTransition":{"condition":{"type":"Age"}}}]}`,
		`{"rules":[{"id":"x","conditions":{"prefix":""},"enabled":true,"abortMultipartUploadsTransition":{"condition":{"type":"Date","date":"2024-12-31T23:59:59Z"}}}]}`,
		`{"rules":[{"id":"x","conditions":{"prefix":""},"enabled":true},{"id":"x","conditions":{"prefix":"b/"},"enabled":true}]}`,
		`{"rules":{}}`,
	} {
		if _, err := ls.Update(tctx(t), "p-outputs", up, def, body(bad)); !errors.As(err, &re) || re.StatusCode != 400 {
			t.Errorf("%s: %v, want 400", bad, err)
		}
	}
	if got := get(); got != `{"rules":null}` {
		t.Errorf("a refused PUT changed the rules: %s", got)
	}
	if _, err := ls.Get(tctx(t), "no-such-bucket", gp, def); !errors.As(err, &re) || re.StatusCode != 404 || re.Errors[0].Code != 10006 {
		t.Errorf("unknown bucket: %v", err)
	}
}
