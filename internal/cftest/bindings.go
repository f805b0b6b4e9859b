package cftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Binding is one binding of a Worker, as an upload's metadata lists it and
// GET .../settings answers it. The fields zerocost and D1 use are typed;
// every other field of an uploaded binding is kept in Extra and answered
// back as it came. A secret_text binding's Text is stored but never answered.
type Binding struct {
	Type         string           `json:"type"`
	Name         string           `json:"name"`
	NamespaceID  string           `json:"namespace_id,omitempty"`
	BucketName   string           `json:"bucket_name,omitempty"`
	Jurisdiction string           `json:"jurisdiction,omitempty"`
	QueueName    string           `json:"queue_name,omitempty"`
	Text         string           `json:"text,omitempty"`
	Dataset      string           `json:"dataset,omitempty"`
	Simple       *RateLimitSimple `json:"simple,omitempty"`
	ID           string           `json:"id,omitempty"`
	DatabaseID   string           `json:"database_id,omitempty"`
	// Extra holds the binding's other fields, verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

type bindingFields Binding // no methods: the default encoding

var bindingKeys = []string{"type", "name", "namespace_id", "bucket_name", "jurisdiction", "queue_name",
	"text", "dataset", "simple", "id", "database_id"}

// MarshalJSON writes the typed fields (a plain_text binding's text even when
// empty) and then Extra.
func (b Binding) MarshalJSON() ([]byte, error) {
	typed, err := json.Marshal(bindingFields(b))
	if err != nil {
		return nil, err
	}
	if len(b.Extra) == 0 && (b.Type != "plain_text" || b.Text != "") {
		return typed, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(typed, &m); err != nil {
		return nil, err
	}
	if b.Type == "plain_text" {
		m["text"], _ = json.Marshal(b.Text)
	}
	for k, v := range b.Extra {
		if _, typed := m[k]; !typed && !slices.Contains(bindingKeys, k) {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the typed fields and keeps the others in Extra. A typed
// field of the wrong JSON type is an error.
func (b *Binding) UnmarshalJSON(data []byte) error {
	var f bindingFields
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	f.Extra = nil
	for k, v := range m {
		if !slices.Contains(bindingKeys, k) {
			if f.Extra == nil {
				f.Extra = map[string]json.RawMessage{}
			}
			f.Extra[k] = bytes.Clone(v)
		}
	}
	*b = Binding(f)
	return nil
}

func (b Binding) clone() Binding {
	if b.Simple != nil {
		s := *b.Simple
		b.Simple = &s
	}
	b.Extra = maps.Clone(b.Extra)
	return b
}

func (b Binding) has(key string) bool {
	_, ok := b.Extra[key]
	return ok
}

// renderBindings is bindings as GET answers them: secret texts left out.
func renderBindings(bs []Binding) []Binding {
	out := make([]Binding, len(bs))
	for i, b := range bs {
		b = b.clone()
		if b.Type == "secret_text" {
			b.Text = ""
		}
		out[i] = b
	}
	return out
}

// otherBindingFields are the binding types zerocost does not use, each with
// the fields (kept in Binding.Extra) the API requires of it.
var otherBindingFields = map[string][]string{
	"json":                     {"json"},
	"service":                  {"service"},
	"durable_object_namespace": {"class_name"},
	"vectorize":                {"index_name"},
	"workflow":                 {"workflow_name"},
	"mtls_certificate":         {"certificate_id"},
	"secrets_store_secret":     {"store_id", "secret_name"},
	"dispatch_namespace":       {"namespace"},
	"wasm_module":              {"part"},
	"text_blob":                {"part"},
	"data_blob":                {"part"},
	"ai":                       nil,
	"browser":                  nil,
	"images":                   nil,
	"version_metadata":         nil,
	"assets":                   nil,
	"inherit":                  nil,
	"pipelines":                nil,
	"send_email":               nil,
	"worker_loader":            nil,
	"logfwdr":                  nil,
	"secret_key":               nil,
}

// bindingRefs are the resources an upload's bindings name; checkBindings
// looks them up.
func (s *Server) checkBindings(a *Account, bs []Binding, textSet map[int]bool) *Message {
	seen := map[string]bool{}
	for i, b := range bs {
		if b.Name == "" {
			return &Message{10021, fmt.Sprintf("binding %d (type %q) has no name", i, b.Type)}
		}
		if seen[b.Name] {
			return &Message{10021, fmt.Sprintf("binding name %q is used more than once", b.Name)}
		}
		seen[b.Name] = true
		if msg := s.checkBinding(a, b, textSet[i]); msg != nil {
			return msg
		}
	}
	return nil
}

// checkBinding checks one binding's fields and that the resource it names
// exists; text says whether the upload set its text field.
func (s *Server) checkBinding(a *Account, b Binding, text bool) *Message {
	missing := func(what string) *Message {
		return &Message{10021, fmt.Sprintf("binding %s of type %s must have a %s specified", b.Name, b.Type, what)}
	}
	switch b.Type {
	case "kv_namespace":
		if b.NamespaceID == "" {
			return missing("namespace_id")
		}
		if !slices.ContainsFunc(a.KVNamespaces, func(ns KVNamespace) bool { return ns.ID == b.NamespaceID }) {
			return &Message{10041, fmt.Sprintf("KV namespace '%s' is not valid. Please verify the namespace_id in your configuration.", b.NamespaceID)}
		}
	case "r2_bucket":
		if b.BucketName == "" {
			return missing("bucket_name")
		}
		j := b.Jurisdiction
		if j == "default" {
			j = ""
		}
		if !slices.ContainsFunc(a.Buckets, func(x Bucket) bool { return x.Name == b.BucketName && x.Jurisdiction == j }) {
			return &Message{10085, fmt.Sprintf("R2 bucket '%s' not found. Please use a different name and try again.", b.BucketName)}
		}
	case "queue":
		if b.QueueName == "" {
			return missing("queue")
		}
		if s.queueByName(a, b.QueueName) == nil {
			return &Message{11000, fmt.Sprintf("Queue %q does not exist", b.QueueName)}
		}
	case "d1":
		id := b.DatabaseID
		if id == "" {
			id = b.ID
		}
		if id == "" {
			return missing("database_id")
		}
		if !slices.ContainsFunc(a.D1Databases, func(db D1Database) bool { return db.UUID == id }) {
			return &Message{10181, fmt.Sprintf("D1 database '%s' not found", id)}
		}
	case "plain_text", "secret_text":
		if !text {
			return missing("text")
		}
	case "ratelimit":
		if b.NamespaceID == "" {
			return missing("namespace_id")
		}
		if b.Simple == nil {
			return missing("simple")
		}
		if b.Simple.Limit < 1 || (b.Simple.Period != 10 && b.Simple.Period != 60) {
			return &Message{10021, fmt.Sprintf("binding %s of type ratelimit: limit must be positive and period 10 or 60, not %d and %d", b.Name, b.Simple.Limit, b.Simple.Period)}
		}
	case "analytics_engine":
		if b.Dataset == "" {
			return missing("dataset")
		}
	case "hyperdrive":
		if b.ID == "" {
			return missing("id")
		}
	default:
		fields, known := otherBindingFields[b.Type]
		if !known {
			return &Message{10021, fmt.Sprintf("binding %s has an unknown type %q", b.Name, b.Type)}
		}
		for _, f := range fields {
			if !b.has(f) {
				return missing(strings.Join(fields, " and "))
			}
		}
	}
	return nil
}
