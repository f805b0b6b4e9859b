package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// NewProduct is a product `zerocost init` and `zerocost product add` write:
// its name and pattern, and a system prompt to replace.
type NewProduct struct {
	Name, Pattern string
}

// starterPrompts are the system prompts of a new product, by pattern: a
// working start the user replaces with their product's prompt.
var starterPrompts = map[string]string{
	EventAgent:    "You complete one task for %s and answer with its result only.",
	AsyncPipeline: "You process one item for %s and answer with its result only.",
	EdgeCache:     "You answer questions about %s briefly and accurately.",
}

// productYAML is the product as a YAML sequence item, indented by indent:
// its name, pattern and starter prompt, and every setting of its pattern
// (SettingsTable) commented out at its default, with its range.
func (n NewProduct) productYAML(indent string) string {
	var b strings.Builder
	w := func(format string, a ...any) { b.WriteString(indent + fmt.Sprintf(format, a...) + "\n") }
	w("- name: %s", n.Name)
	w("  pattern: %s", n.Pattern)
	w("  # Replace with your product's prompt, or use systemPromptFile: prompts/%s.md", n.Name)
	w("  systemPrompt: %s", fmt.Sprintf(starterPrompts[n.Pattern], n.Name))
	w("  # model: %s", DefaultModel)
	w("  # Every setting of %s; uncomment one to change its default.", n.Pattern)
	w("  # settings:")
	for _, st := range SettingsTable {
		if !slices.Contains(st.Patterns, n.Pattern) {
			continue
		}
		w("  #   %s", st.commented(n.Pattern))
	}
	return b.String()
}

// commented is the setting as a commented YAML line: its default (or the
// unset value) and what bounds it.
func (st Setting) commented(pattern string) string {
	line := st.Name + ":"
	var notes []string
	if st.DefaultDoc != "" {
		notes = append(notes, "by default "+st.DefaultDoc)
	} else if st.Default == nil {
		notes = append(notes, "unset by default")
	} else if j, err := json.Marshal(st.Default); err == nil {
		line += " " + string(j)
	}
	r := st.Range
	if br, ok := st.ByPattern[pattern]; ok {
		r = &br
	}
	if r != nil {
		notes = append(notes, fmt.Sprintf("%d..%d: %s", r.Min, r.Max, r.Why))
	}
	if len(st.OneOf) > 0 {
		notes = append(notes, "one of "+strings.Join(st.OneOf, ", "))
	}
	if st.When != nil {
		if ok, why := st.When(&Settings{}); !ok {
			notes = append(notes, strings.SplitN(why, " (", 2)[0])
		}
	}
	if len(notes) > 0 {
		line = fmt.Sprintf("%-36s # %s", line, strings.Join(notes, "; "))
	}
	return line
}

// NewStackFile is the text of a new Pulumi.<stack>.yaml holding one
// product. An empty accountID writes PlaceholderAccountID. The file is
// checked as LoadFile would check it.
func NewStackFile(stackName, accountID string, p NewProduct) ([]byte, error) {
	placeholder := accountID == ""
	if placeholder {
		accountID = PlaceholderAccountID
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# The zerocost stack %s, written by `zerocost init`. Keys and settings: README.md,\n", stackName)
	b.WriteString("# \"Configure a stack\". Add a product with `zerocost product add`.\n")
	b.WriteString("config:\n")
	if placeholder {
		b.WriteString("  # A placeholder: render, plan and dev take it, deploy refuses it. Set your\n")
		b.WriteString("  # account id (Cloudflare dashboard, Workers & Pages) with\n")
		b.WriteString("  # `pulumi config set zerocost:accountId <32-hex id>` or here.\n")
	}
	fmt.Fprintf(&b, "  %s:%s: %q\n", Namespace, KeyAccountID, accountID)
	fmt.Fprintf(&b, "  # %s:%s: my-subdomain   # for the workers.dev URLs in outputs\n", Namespace, KeyWorkersDevSubdomain)
	fmt.Fprintf(&b, "  # %s:%s: 20             # the stack's cap on a month's model spend, USD\n", Namespace, KeyMonthlyBudgetUSD)
	fmt.Fprintf(&b, "  %s:%s:\n", Namespace, KeyProducts)
	b.WriteString(p.productYAML("    "))
	data := []byte(b.String())
	if err := check(stackName, data); err != nil {
		return nil, err
	}
	return data, nil
}

// AddProduct adds p to the products of a stack file's text, keeping the
// rest of its values and comments (it is re-encoded by yaml.v3, two-space
// indented). It refuses a name the stack already has.
func AddProduct(stackName string, data []byte, p NewProduct) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	config := mapValue(&doc, "config")
	seq := mapValue(config, Namespace+":"+KeyProducts)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("no %s:%s list under config: to start a stack, use `zerocost init`", Namespace, KeyProducts)
	}
	for _, item := range seq.Content {
		if name := mapValue(item, "name"); name != nil && name.Value == p.Name {
			return nil, fmt.Errorf("stack %s already has a product named %s", stackName, p.Name)
		}
	}
	var snippet yaml.Node
	if err := yaml.Unmarshal([]byte(p.productYAML("")), &snippet); err != nil {
		return nil, err
	}
	seq.Style &^= yaml.FlowStyle
	seq.Content = append(seq.Content, snippet.Content[0].Content...)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := check(stackName, out.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// mapValue is the value of key in the mapping n (or the mapping a document
// holds); nil when there is none.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// check validates a stack file's text as LoadFile does.
func check(stackName string, data []byte) error {
	values, err := ParseYAML(data)
	if err != nil {
		return err
	}
	if _, err := FromValues(stackName, values); err != nil {
		return fmt.Errorf("stack %s: %w", stackName, err)
	}
	return nil
}
