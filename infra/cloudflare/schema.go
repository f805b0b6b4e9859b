package cloudflare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

//go:generate go run ./schemagen -out schema.json

// Schema is the part of a Pulumi package schema this package is checked
// against: the resources it registers and every object type they reach.
type Schema struct {
	Name      string                    `json:"name"`
	Version   string                    `json:"version"`
	Resources map[string]SchemaResource `json:"resources"`
	Types     map[string]SchemaObject   `json:"types"`
}

// SchemaResource is one resource: its input and output properties.
type SchemaResource struct {
	InputProperties map[string]SchemaProperty `json:"inputProperties"`
	RequiredInputs  []string                  `json:"requiredInputs,omitempty"`
	Properties      map[string]SchemaProperty `json:"properties"`
	Required        []string                  `json:"required,omitempty"`
	Aliases         []SchemaAlias             `json:"aliases,omitempty"`
}

// SchemaAlias is an earlier type token of a resource.
type SchemaAlias struct {
	Type string `json:"type"`
}

// SchemaObject is an object type.
type SchemaObject struct {
	Type       string                    `json:"type"`
	Properties map[string]SchemaProperty `json:"properties"`
	Required   []string                  `json:"required,omitempty"`
}

// SchemaProperty is a property's type: a primitive, an array, a map or a
// reference to an object type ("#/types/<token>").
type SchemaProperty struct {
	Type                 string          `json:"type,omitempty"`
	Ref                  string          `json:"$ref,omitempty"`
	Items                *SchemaProperty `json:"items,omitempty"`
	AdditionalProperties *SchemaProperty `json:"additionalProperties,omitempty"`
	Secret               bool            `json:"secret,omitempty"`
}

// TypeToken is the object type a "#/types/..." reference names.
func (p SchemaProperty) TypeToken() string {
	return strings.TrimPrefix(p.Ref, "#/types/")
}

// FilterSchema reads a full provider schema (`pulumi package get-schema`)
// and keeps the resources in tokens and the object types they reach; doc
// strings and everything else are dropped. The output is stable JSON.
func FilterSchema(full []byte, tokens []string) ([]byte, error) {
	var in Schema
	if err := json.Unmarshal(full, &in); err != nil {
		return nil, fmt.Errorf("provider schema: %w", err)
	}
	out := Schema{Name: in.Name, Version: in.Version, Resources: map[string]SchemaResource{}, Types: map[string]SchemaObject{}}
	var queue []string
	visit := func(props map[string]SchemaProperty) {
		for _, p := range props {
			for q := &p; q != nil; {
				if strings.HasPrefix(q.Ref, "#/types/") { // not "pulumi.json#/Any"
					queue = append(queue, q.TypeToken())
				}
				switch {
				case q.Items != nil:
					q = q.Items
				case q.AdditionalProperties != nil:
					q = q.AdditionalProperties
				default:
					q = nil
				}
			}
		}
	}
	for _, tok := range tokens {
		r, ok := in.Resources[tok]
		if !ok {
			return nil, fmt.Errorf("provider schema %s %s has no resource %s", in.Name, in.Version, tok)
		}
		sort.Strings(r.RequiredInputs)
		sort.Strings(r.Required)
		out.Resources[tok] = r
		visit(r.InputProperties)
		visit(r.Properties)
	}
	for len(queue) > 0 {
		tok := queue[0]
		queue = queue[1:]
		if _, done := out.Types[tok]; done {
			continue
		}
		t, ok := in.Types[tok]
		if !ok {
			return nil, fmt.Errorf("provider schema: type %s is referenced but not defined", tok)
		}
		sort.Strings(t.Required)
		out.Types[tok] = t
		visit(t.Properties)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil { // map keys are sorted: stable output
		return nil, err
	}
	return buf.Bytes(), nil
}

// Tokens lists the type tokens of Resources.
func Tokens() []string {
	out := make([]string, len(Resources))
	for i, s := range Resources {
		out[i] = s.Token
	}
	slices.Sort(out)
	return out
}

// ReadPluginSchema runs `pulumi package get-schema plugin` (a plugin
// name@version, or a path to the plugin binary) and returns the schema. The
// pulumi CLI must be on PATH; the plugin is found on PATH or among installed
// plugins, never downloaded.
func ReadPluginSchema(plugin string) ([]byte, error) {
	cmd := exec.Command("pulumi", "package", "get-schema", plugin)
	cmd.Env = append(os.Environ(), "PULUMI_SKIP_UPDATE_CHECK=true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pulumi package get-schema %s: %w\n%s", plugin, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
