package outputs

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	// email-worker's are the outputs of a stack deployed while products had
	// KV namespaces: the key outputs no longer has is ignored.
	s, err := Parse([]byte(`{
  "ai-relay": {"pattern": "edge-cache", "script": "ai-relay-demo", "url": "https://ai-relay-demo.x.workers.dev",
               "r2_buckets": {"OUTPUTS": "ai-relay-demo-outputs"}},
  "email-worker": {"pattern": "async-pipeline", "script": "email-worker-demo", "url": "",
               "kv_namespace_ids": {"JOBS": "def"}, "r2_buckets": {"OUTPUTS": "b"}, "queue_ids": {"email-worker-demo-jobs": "q1"}},
  "someoneElse": "a string export"
}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s["ai-relay"].R2Buckets["OUTPUTS"] != "ai-relay-demo-outputs" || s["email-worker"].QueueIDs["email-worker-demo-jobs"] != "q1" {
		t.Errorf("parsed %+v", s)
	}
	if got := s.Names(); got[0] != "ai-relay" || got[1] != "email-worker" {
		t.Errorf("names %v", got)
	}
	if _, err := Parse([]byte(`{"x": 1}`)); err == nil {
		t.Error("outputs without products accepted")
	}
	if _, err := Parse([]byte(`[`)); err == nil {
		t.Error("bad JSON accepted")
	}
}

// infra/ exports a Product through the Pulumi SDK, which names each field by
// its pulumi tag; Parse reads it by its JSON tag: the two agree.
func TestPulumiAndJSONKeysAgree(t *testing.T) {
	typ := reflect.TypeFor[Product]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		js, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		pu, _, _ := strings.Cut(f.Tag.Get("pulumi"), ",")
		if js == "" || js != pu {
			t.Errorf("%s: json key %q, pulumi key %q", f.Name, js, pu)
		}
	}
}
