package cftest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// spec is Cloudflare's OpenAPI subset (testdata/cloudflare-api/README.md).
type spec struct {
	doc map[string]any
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	b, err := os.ReadFile("testdata/cloudflare-api/openapi-subset.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc}
}

// component returns #/components/schemas/<name>.
func (s *spec) component(name string) any {
	return s.doc["components"].(map[string]any)["schemas"].(map[string]any)[name]
}

// response returns the schema of a path's 200 answer.
func (s *spec) response(path, method string) any {
	p := s.doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
	return p["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
}

func (s *spec) resolve(schema any) map[string]any {
	m, _ := schema.(map[string]any)
	for depth := 0; m != nil && depth < 32; depth++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m, _ = s.component(strings.TrimPrefix(ref, "#/components/schemas/")).(map[string]any)
	}
	return m
}

// validate checks v against an OpenAPI 3.0 schema: $ref, allOf, oneOf (exactly
// one), anyOf, type, nullable, enum, required, properties and items. A
// required name the same schema does not declare in its properties is a known
// quirk of the published schema (the queue list requires queue fields on the
// envelope) and is not enforced.
func (s *spec) validate(v any, schema any, at string) error {
	m := s.resolve(schema)
	if len(m) == 0 {
		return nil
	}
	if v == nil {
		if nullable, _ := m["nullable"].(bool); nullable {
			return nil
		}
	}
	if enum, ok := m["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
		}
	}
	if all, ok := m["allOf"].([]any); ok {
		for i, sub := range all {
			if err := s.validate(v, sub, fmt.Sprintf("%s(allOf %d)", at, i)); err != nil {
				return err
			}
		}
	}
	if one, ok := m["oneOf"].([]any); ok {
		n := 0
		var errs []string
		for _, sub := range one {
			if err := s.validate(v, sub, at); err == nil {
				n++
			} else {
				errs = append(errs, err.Error())
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: matches %d of oneOf (want 1): %s", at, n, strings.Join(errs, "; "))
		}
	}
	if anyOf, ok := m["anyOf"].([]any); ok {
		matched := false
		for _, sub := range anyOf {
			if s.validate(v, sub, at) == nil {
				matched = true
			}
		}
		if !matched {
			return fmt.Errorf("%s: matches none of anyOf", at)
		}
	}
	switch m["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T is not an object", at, v)
		}
		props, _ := m["properties"].(map[string]any)
		if req, ok := m["required"].([]any); ok {
			for _, r := range req {
				name := r.(string)
				if _, declared := props[name]; !declared {
					continue
				}
				if _, present := obj[name]; !present {
					return fmt.Errorf("%s: required %q is missing", at, name)
				}
			}
		}
		for name, sub := range props {
			if val, present := obj[name]; present {
				if err := s.validate(val, sub, at+"."+name); err != nil {
					return err
				}
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T is not an array", at, v)
		}
		for i, item := range arr {
			if err := s.validate(item, m["items"], fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %T is not a string", at, v)
		}
	case "integer", "number":
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s: %T is not a number", at, v)
		}
		if m["type"] == "integer" && f != float64(int64(f)) {
			return fmt.Errorf("%s: %v is not an integer", at, f)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T is not a boolean", at, v)
		}
	}
	return nil
}

// The validator itself must reject what the schema forbids, or the shape
// tests below prove nothing.
func TestValidatorRejects(t *testing.T) {
	sp := loadSpec(t)
	kvList := sp.response("/accounts/{account_id}/storage/kv/namespaces", "get")
	good := map[string]any{"success": true, "errors": []any{}, "messages": []any{}, "result": []any{map[string]any{"id": "x", "title": "t"}}}
	if err := sp.validate(good, kvList, "kv"); err != nil {
		t.Fatalf("valid answer rejected: %v", err)
	}
	for name, bad := range map[string]map[string]any{
		"no title":       {"success": true, "errors": []any{}, "messages": []any{}, "result": []any{map[string]any{"id": "x"}}},
		"success false":  {"success": false, "errors": []any{}, "messages": []any{}, "result": []any{}},
		"no messages":    {"success": true, "errors": []any{}, "result": []any{}},
		"result object":  {"success": true, "errors": []any{}, "messages": []any{}, "result": map[string]any{}},
		"code not a num": {"success": true, "errors": []any{map[string]any{"code": "x", "message": "m"}}, "messages": []any{}, "result": []any{}},
	} {
		if err := sp.validate(bad, kvList, "kv"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
