package apikeys

import (
	"context"
	"testing"
	"time"
)

// PutUntil has KV expire the pair: at the time given, or 60 s ahead when
// that is nearer (KV refuses a nearer expiration); Put keeps none.
func TestPutUntilSetsTheKVExpiration(t *testing.T) {
	k, srv, ns, _ := fakeKeys(t)
	ctx := context.Background()
	now := time.Now()
	rec := Record{V: RecordVersion, Customer: "acme", Prefix: "zck_Ab12Cd34", Product: "relay", Tier: DefaultTier, CreatedAt: Stamp(now)}
	until := now.Add(15 * time.Minute)
	if err := k.Store.PutUntil(ctx, "aa", rec, until, now); err != nil {
		t.Fatal(err)
	}
	if err := k.Store.PutUntil(ctx, "bb", rec, now.Add(time.Second), now); err != nil {
		t.Fatalf("a near expiry was not moved to 60 s: %v", err)
	}
	if err := k.Store.Put(ctx, "cc", rec); err != nil {
		t.Fatal(err)
	}
	vals := srv.KVValues(account, ns)
	if got := vals["k:aa"].Expiration; got < until.Unix() || got > until.Unix()+1 {
		t.Errorf("expiration %d, want %d (whole seconds up)", got, until.Unix())
	}
	if got, min := vals["k:bb"].Expiration, now.Add(MinExpiry).Unix(); got < min || got > min+1 {
		t.Errorf("near expiration %d, want %d", got, min)
	}
	if got := vals["k:cc"].Expiration; got != 0 {
		t.Errorf("Put set an expiration %d", got)
	}
	// The record is listed as before.
	es, err := k.Store.List(ctx)
	if err != nil || len(es) != 3 {
		t.Fatalf("List = %v, %v", es, err)
	}
}
