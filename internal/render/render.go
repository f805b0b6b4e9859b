// Package render turns a product of a stack into its wrangler config by filling
// the pattern's template (templates/<pattern>/wrangler.toml.tmpl).
package render

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/zerocost/zerocost"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/names"
	"github.com/zerocost/zerocost/internal/stack"
)

// MainModule is the file name of a product's bundled Worker next to its wrangler.toml.
const MainModule = "worker.js"

// Var is one plain-text Worker variable.
type Var struct{ Name, Value string }

// BindingNames are the resource binding names the templates write, from
// internal/contract.
type BindingNames struct {
	Outputs, JobQueue, RateLimiter, ModelUsage string
}

// bindingNames is the one value of BindingNames.
var bindingNames = BindingNames{
	Outputs: contract.Outputs, JobQueue: contract.JobQueue, RateLimiter: contract.RateLimiter, ModelUsage: contract.ModelUsage,
}

// Data is what a pattern template sees.
type Data struct {
	stack.Product
	Stack                string
	Script               string
	Main                 string
	CompatibilityDate    string
	WorkersDev           bool
	Bucket               string
	Queue                string
	DeadLetterQueue      string
	RateLimitNamespaceID int
	AnalyticsDataset     string
	// Binding names the bindings the template declares.
	Binding     BindingNames
	Vars        []Var
	SecretNames []string
}

// Templates parses the embedded templates (common.tmpl plus one per pattern).
func Templates() (map[string]*template.Template, error) {
	return parse(zerocost.Templates)
}

func parse(fsys fs.FS) (map[string]*template.Template, error) {
	common, err := fs.ReadFile(fsys, "templates/common.tmpl")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, pat := range stack.Patterns {
		name := "templates/" + pat + "/wrangler.toml.tmpl"
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("template for pattern %s: %w", pat, err)
		}
		t := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
			"q":    Quote,
			"join": strings.Join,
		})
		if _, err := t.Parse(string(common)); err != nil {
			return nil, fmt.Errorf("templates/common.tmpl: %w", err)
		}
		if _, err := t.Parse(string(body)); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[pat] = t
	}
	return out, nil
}

// NewData derives a product's names, vars and settings for its template.
// projectDir resolves systemPromptFile.
func NewData(cfg *stack.Config, p stack.Product, projectDir string) (*Data, error) {
	field := fmt.Sprintf("zerocost:products[%s]", p.Name)
	d := &Data{
		Product:           p,
		Stack:             cfg.Stack,
		Script:            names.Script(p.Name, cfg.Stack),
		Main:              MainModule,
		CompatibilityDate: cfg.CompatibilityDate,
		WorkersDev:        p.Route == nil && p.CustomDomain == nil,
		Bucket:            names.Bucket(p.Name, cfg.Stack),
		AnalyticsDataset:  contract.ModelUsageDataset,
		Binding:           bindingNames,
		SecretNames:       []string{contract.AnthropicAPIKey},
	}
	if cfg.HasAuthToken {
		d.SecretNames = append(d.SecretNames, contract.AuthToken)
	}
	checks := [][2]string{{"script", d.Script}, {"bucket", d.Bucket}}
	if p.Pattern == stack.AsyncPipeline {
		d.Queue = names.Queue(p.Name, cfg.Stack)
		d.DeadLetterQueue = names.DeadLetterQueue(d.Queue)
		checks = append(checks, [2]string{"queue", d.Queue}, [2]string{"queue", d.DeadLetterQueue})
	}
	for _, c := range checks {
		if err := names.Check(c[0], c[1]); err != nil {
			return nil, fmt.Errorf("%s.name: %w (shorten the product or stack name)", field, err)
		}
	}
	d.RateLimitNamespaceID = p.Settings.RateLimitNamespaceID
	if d.RateLimitNamespaceID == 0 {
		d.RateLimitNamespaceID = DefaultRateLimitNamespaceID(d.Script)
	}

	prompt := p.SystemPrompt
	if p.SystemPromptFile != "" {
		path, err := stack.ResolvePath(projectDir, p.SystemPromptFile)
		if err != nil {
			return nil, fmt.Errorf("%s.systemPromptFile: %w", field, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s.systemPromptFile: %w", field, err)
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s.systemPromptFile: %s is not UTF-8 text", field, p.SystemPromptFile)
		}
		prompt = strings.TrimRight(string(b), "\n")
		if len(prompt) > 5*1024 {
			return nil, fmt.Errorf("%s.systemPromptFile: %s is %d bytes; a Worker variable holds at most 5120", field, p.SystemPromptFile, len(prompt))
		}
	}
	s := p.Settings
	itoa := strconv.Itoa
	// The value of every var internal/contract declares; the pattern's vars
	// are written in the contract's order.
	values := map[string]string{
		contract.VarProduct:            p.Name,
		contract.VarPattern:            p.Pattern,
		contract.VarModel:              p.Model,
		contract.VarAnthropicBaseURL:   cfg.AnthropicBaseURL,
		contract.VarSystemPrompt:       prompt,
		contract.VarMaxInputChars:      itoa(s.MaxInputChars),
		contract.VarMaxOutputTokens:    itoa(s.MaxOutputTokens),
		contract.VarModelTimeoutMs:     itoa(s.ModelTimeoutMs),
		contract.VarRateLimitPerMinute: itoa(s.RateLimitPerMinute),
		contract.VarRetryDelaySeconds:  itoa(s.RetryDelaySeconds),
		contract.VarDeadLetterQueue:    d.DeadLetterQueue,
		contract.VarCacheTTLSeconds:    itoa(s.CacheTTLSeconds),
	}
	for _, name := range contract.VarsOf(p.Pattern) {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("%s: internal/render has no value for var %s", field, name)
		}
		d.Vars = append(d.Vars, Var{name, v})
	}
	return d, nil
}

// DefaultRateLimitNamespaceID derives a stable rate-limit namespace id from the
// script name, so that two products never share a limiter by accident.
func DefaultRateLimitNamespaceID(script string) int {
	h := fnv.New32a()
	h.Write([]byte(script))
	return 100000 + int(h.Sum32()%900000)
}

// Product renders one product's wrangler.toml.
func Product(tmpls map[string]*template.Template, d *Data) ([]byte, error) {
	t, ok := tmpls[d.Pattern]
	if !ok {
		return nil, fmt.Errorf("no template for pattern %q", d.Pattern)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", d.Name, err)
	}
	return buf.Bytes(), nil
}

// Quote writes a value as a TOML basic string.
func Quote(v any) string {
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case int:
		s = strconv.Itoa(t)
	default:
		s = fmt.Sprint(t)
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
