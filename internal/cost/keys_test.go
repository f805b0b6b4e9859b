package cost

import (
	"strings"
	"testing"
)

// A customer sending 60 requests a minute all month to one isolate reads
// its key once a minute: 1/60 of a KV read per request, within the goal of
// at most 0.1.
func TestKeyLookupsBusyCustomer(t *testing.T) {
	const perMonth = 60 * 30 * 24 * 60
	r := forecast(t, Paid, product("agent", EventAgent, perMonth, "runner = \"waitUntil\"\npolls_per_job = 0\ncustomers = 1\nisolates = 1"))
	reads := item(r, "agent", KV, Reads).Quantity
	if !near(reads, 30*24*60) {
		t.Errorf("KV reads %v, want one a minute all month (%d)", reads, 30*24*60)
	}
	if perReq := reads / perMonth; perReq > 0.1 {
		t.Errorf("KV reads per request %v, want at most 0.1", perReq)
	}
}

// A quiet product reads a key per client request (the polls too): its
// isolates' caches have expired between requests.
func TestKeyLookupsQuietProduct(t *testing.T) {
	r := forecast(t, Free, product("agent", EventAgent, 300, "polls_per_job = 2"))
	wantQty(t, r, "agent", KV, Reads, 900)
	pub := forecast(t, Free, product("agent", EventAgent, 300, "polls_per_job = 2\naccess = \"public\""))
	wantQty(t, pub, "agent", KV, Reads, 0)
	p, err := ParseProfile("t.toml", []byte(product("agent", EventAgent, 300, "")))
	if err != nil {
		t.Fatal(err)
	}
	e := EventsPerMonth(p, &p.Products[0])
	if _, ok := e["key_check"]; ok || e["key_lookup"] != 900 {
		t.Errorf("events %v: want a key_lookup per client request and no door of its own (the tier door replaces DOOR_LIMITER)", e)
	}
}

func TestKeyFieldsChecked(t *testing.T) {
	for doc, want := range map[string]string{
		"access = \"open\"":                  `access: "open" is not an access mode`,
		"access = \"public\"\ncustomers = 5": "customers and isolates apply with access = \"keys\" only",
		"customers = 0":                      "customers: 0 is below 1",
		"isolates = -1":                      "isolates: -1 is below 1",
	} {
		_, err := ParseProfile("t.toml", []byte(product("agent", EventAgent, 1, doc)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
	st := &StackFacts{Name: "s", Products: []StackProduct{{Name: "relay", Pattern: EdgeCache, Model: DefaultModel, Access: "keys"}}}
	_, err := ParseProfileFor("u.toml", []byte(traffic+"access = \"public\"\n"), st)
	if err == nil || !strings.Contains(err.Error(), `product[0] (relay).access: "public", but stack s has "keys" (zerocost:products[0].access)`) {
		t.Errorf("restated access: %v", err)
	}
}

// KV's free reads are among the daily limits: listed in the forecast, warned
// about when over, billed on Workers Paid past the 10M included.
func TestKeyLookupsLimits(t *testing.T) {
	// 110,000 questions a day, each from a quiet customer's key.
	r := forecast(t, Free, product("relay", EdgeCache, 3_300_000, "cache_hit_rate = 0.9\ncustomers = 1000"))
	found := false
	for _, l := range r.FreeLimits {
		found = found || (l.Service == KV && l.Metric == Reads && near(l.PeakDay, 110_000))
	}
	if !found {
		t.Errorf("free limits %+v: no KV reads at 110,000 a day", r.FreeLimits)
	}
	if !hasWarning(r, "KV reads: 110,000/day on the account") {
		t.Errorf("warnings %q: none for KV reads", r.Warnings)
	}
	// Workers Paid: 20M reads, 10M included, then $0.50/M.
	paid := forecast(t, Paid, product("relay", EdgeCache, 20e6, "cache_hit_rate = 0.9\ncustomers = 1000\nisolates = 1"))
	if it := item(paid, "relay", KV, Reads); !near(it.Quantity, 20e6) || !near(it.USD, 5) {
		t.Errorf("paid KV reads %+v, want 20M reads costing $5.00", it)
	}
}

// Lookups at their bound do not grow with the traffic, so capacity does
// not scale them; a KV read is at most one per Workers request, so on
// Workers Free the Workers' requests run out first or together.
func TestKeyLookupsCapacity(t *testing.T) {
	r := forecast(t, Free, product("relay", EdgeCache, 300_000, "cache_hit_rate = 0.9\ncustomers = 1\nisolates = 1"))
	if len(r.Capacity) == 0 || r.Capacity[0].Limit == nil || r.Capacity[0].Limit.Service != Workers {
		t.Errorf("capacity %+v, want Workers requests first", r.Capacity)
	}
	for _, pu := range FromProfile(mustProfile(t, product("relay", EdgeCache, 300_000, "cache_hit_rate = 0.9\ncustomers = 1\nisolates = 1"))).Products {
		if got := pu.Fixed[Meter{KV, Reads}]; !near(got, 30*24*60) {
			t.Errorf("fixed KV reads %v, want the bound %d", got, 30*24*60)
		}
	}
}

func mustProfile(t *testing.T, doc string) *Profile {
	t.Helper()
	p, err := ParseProfile("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
