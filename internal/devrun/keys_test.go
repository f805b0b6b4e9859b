package devrun

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/apikeys"
)

// checkDevKeys: every product of the demo (all with keys) has a key dev
// created, in the state file (mode 0600) and nowhere else under the data
// folder; the KV API lists its record with its metadata; a record written
// revoked through the KV API gets 401 revoked.
func checkDevKeys(t *testing.T, data string, st *State) {
	t.Helper()
	path := filepath.Join(data, "dev", "demo.json")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file %v mode %v, want 0600", err, fi.Mode().Perm())
	}
	if st.KVAPIURL == "" || st.KVAccountID == "" {
		t.Fatalf("state: no KV API (%q, %q)", st.KVAPIURL, st.KVAccountID)
	}
	for _, p := range st.Products {
		if apikeys.Validate(p.Key) != nil || p.KeysNamespaceID == "" {
			t.Errorf("%s: key valid %v, namespace %q", p.Name, apikeys.Validate(p.Key), p.KeysNamespaceID)
			continue
		}
		_ = filepath.WalkDir(data, func(f string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || f == path {
				return nil
			}
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), p.Key) {
				t.Errorf("%s's key is in %s", p.Name, f)
			}
			return nil
		})
	}
	p := st.Product("ai-relay")
	u := st.KVAPIURL + "accounts/" + st.KVAccountID + "/storage/kv/namespaces/" + p.KeysNamespaceID + "/keys?prefix=k%3A"
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Result []struct {
			Name     string         `json:"name"`
			Metadata apikeys.Record `json:"metadata"`
		} `json:"result"`
		ResultInfo struct {
			Cursor *string `json:"cursor"`
		} `json:"result_info"`
	}
	err = json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	want := apikeys.KVName(apikeys.Hash(p.Key))
	found := false
	for _, k := range list.Result {
		found = found || (k.Name == want && k.Metadata.Customer == DevCustomer && k.Metadata.Product == "ai-relay")
	}
	if err != nil || !found || list.ResultInfo.Cursor == nil || *list.ResultInfo.Cursor != "" {
		t.Errorf("KV API list: %v, found %v, %+v", err, found, list)
	}
	key, _ := apikeys.Generate(nil)
	now := apikeys.Stamp(time.Now())
	rec := apikeys.Record{V: 1, Customer: "gone", Prefix: apikeys.DisplayPrefix(key), Product: "ai-relay", Tier: apikeys.DefaultTier, CreatedAt: now, RevokedAt: &now}
	if err := st.PutKey(context.Background(), "ai-relay", apikeys.Hash(key), rec); err != nil {
		t.Fatal(err)
	}
	code, _, m := call(t, http.MethodPost, p.URL+"/ask", `{"input":"x"}`, "x-api-key", key)
	if code != http.StatusUnauthorized || !strings.Contains(m["error"].(map[string]any)["message"].(string), "revoked") {
		t.Errorf("a revoked key: %d %v", code, m)
	}
}
