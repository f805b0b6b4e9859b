// Package render turns a product of a stack into its wrangler config by filling
// the pattern's template (templates/<pattern>/wrangler.toml.tmpl).
package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/zerocost/zerocost"
	"github.com/zerocost/zerocost/internal/contract"
	"github.com/zerocost/zerocost/internal/cost"
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
	Outputs, JobQueue, RateLimiter, DoorLimiter, ModelUsage, Spend, Keys, KeyFailures, JobWorkflow string
}

// bindingNames is the one value of BindingNames.
var bindingNames = BindingNames{
	Outputs: contract.Outputs, JobQueue: contract.JobQueue, RateLimiter: contract.RateLimiter, DoorLimiter: contract.DoorLimiter, ModelUsage: contract.ModelUsage,
	Spend: contract.Spend, Keys: contract.Keys, KeyFailures: contract.KeyFailures, JobWorkflow: contract.JobWorkflow,
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
	// DoorNamespaceID is the door limiter's namespace (DefaultDoorNamespaceID).
	DoorNamespaceID  int
	AnalyticsDataset string
	// Workflow is an event agent's Workflow on runner: workflow, else "";
	// WorkflowClass the class its Worker exports for it.
	Workflow      string
	WorkflowClass string
	// SpendDatabase is the stack's spend database (D1) when the stack has a
	// budget, else "". SpendDatabaseID is its local stand-in id (see
	// LocalDatabaseID): Pulumi creates the database and binds its real id.
	SpendDatabase   string
	SpendDatabaseID string
	// Keys is the product's customer keys (access: keys), nil when public.
	Keys *Keys
	// Binding names the bindings the template declares.
	Binding     BindingNames
	Vars        []Var
	SecretNames []string
}

// Keys is what the template declares for a product with customer keys: the
// KV namespace (its title, and its local stand-in id: Pulumi creates the
// namespace and binds its real id), the failed-check limiter and one door
// limiter per tier.
type Keys struct {
	Namespace, NamespaceID string
	FailuresNamespaceID    int
	FailuresPerMinute      int
	Doors                  []Door
}

// Door is a tier's door limit: a ratelimit binding keyed by customer.
type Door struct {
	Binding     string
	NamespaceID int
	PerMinute   int
}

// KeyFailuresPerMinute is how many failed key checks a client address may
// make a minute before its next unknown keys are refused without a KV read
// (429): 10 a minute is at most 14,400 KV reads a day per address, against
// Workers KV's 100,000 free reads a day (developers.cloudflare.com/kv/platform/pricing/).
const KeyFailuresPerMinute = 10

// newKeys derives a keyed product's namespace and limiters.
func newKeys(p stack.Product, script, stackName string) *Keys {
	title := names.KeysNamespace(p.Name, stackName)
	k := &Keys{Namespace: title, NamespaceID: LocalNamespaceID(title),
		FailuresNamespaceID: DefaultRateLimitNamespaceID(script + "/key-failures"), FailuresPerMinute: KeyFailuresPerMinute}
	for _, t := range p.TierNames() {
		k.Doors = append(k.Doors, Door{Binding: contract.Door(t),
			NamespaceID: DefaultRateLimitNamespaceID(script + "/door/" + t), PerMinute: p.Tiers[t]})
	}
	return k
}

// LocalNamespaceID is the id the rendered config gives a KV namespace: 32
// hex digits derived from its title, stable across renders so that the local
// runtime keeps its keys. The deployed namespace's id is Cloudflare's;
// Pulumi binds that one.
func LocalNamespaceID(title string) string {
	h := sha256.Sum256([]byte("zerocost local kv " + title))
	return fmt.Sprintf("%x", h[:16])
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
	index := fmt.Sprintf("%s:%s[%d]", stack.Namespace, stack.KeyProducts, productIndex(cfg, p.Name))
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
	if HasBudgetAlertWebhook(cfg, p) {
		d.SecretNames = append(d.SecretNames, contract.BudgetAlertWebhook)
	}
	checks := [][2]string{{"script", d.Script}, {"bucket", d.Bucket}}
	if cfg.HasSpendStore() {
		d.SpendDatabase = names.SpendDatabase(cfg.Stack)
		d.SpendDatabaseID = LocalDatabaseID(d.SpendDatabase)
		checks = append(checks, [2]string{"database", d.SpendDatabase})
	}
	if p.HasKeys() {
		d.Keys = newKeys(p, d.Script, cfg.Stack)
	}
	if p.Pattern == stack.AsyncPipeline {
		d.Queue = names.Queue(p.Name, cfg.Stack)
		d.DeadLetterQueue = names.DeadLetterQueue(d.Queue)
		checks = append(checks, [2]string{"queue", d.Queue}, [2]string{"queue", d.DeadLetterQueue})
	}
	if p.Pattern == stack.EventAgent && p.Settings.Runner == stack.RunnerWorkflow {
		d.Workflow, d.WorkflowClass = names.Workflow(p.Name, cfg.Stack), contract.JobWorkflowClass
		checks = append(checks, [2]string{"workflow", d.Workflow})
	}
	for _, c := range checks {
		if err := names.Check(c[0], c[1]); err != nil {
			return nil, fmt.Errorf("%s.name: %w (shorten the product or stack name)", field, err)
		}
	}
	// In batch mode the poller's cron trigger joins the product's own.
	d.Product.Crons = p.CronTriggers()
	d.RateLimitNamespaceID = p.Settings.RateLimitNamespaceID
	if d.RateLimitNamespaceID == 0 {
		d.RateLimitNamespaceID = DefaultRateLimitNamespaceID(d.Script)
	}
	d.DoorNamespaceID = DefaultDoorNamespaceID(d.Script, d.RateLimitNamespaceID)

	prompt, err := systemPrompt(p, projectDir, field)
	if err != nil {
		return nil, err
	}
	modelPrices, err := ModelPricesJSON(p.Model)
	if err != nil {
		return nil, fmt.Errorf("%s.model: %w", index, err)
	}
	if d.Vars, err = vars(cfg, p, d, prompt, modelPrices); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}

// productIndex is the product's position in the stack's list, for fields
// named as Pulumi's --path names them (zerocost:products[0].model).
func productIndex(cfg *stack.Config, name string) int {
	for i, p := range cfg.Products {
		if p.Name == name {
			return i
		}
	}
	return -1
}

// HasBudgetAlertWebhook says whether the product's Worker gets the
// BUDGET_ALERT_WEBHOOK secret: the product sets a (token-free)
// settings.budgetAlertWebhook or the stack the secret
// zerocost:budgetAlertWebhook, and the stack has a spend store (a budget,
// or a product with customer keys, whose customers' budgets alert too).
func HasBudgetAlertWebhook(cfg *stack.Config, p stack.Product) bool {
	return cfg.HasSpendStore() && (p.Settings.BudgetAlertWebhook != "" || cfg.HasBudgetAlertWebhook)
}

// BudgetAlertWebhookKey is the config key the product's BUDGET_ALERT_WEBHOOK
// comes from: its own settings.budgetAlertWebhook (plain, token-free) when
// set, else the stack's secret.
func BudgetAlertWebhookKey(cfg *stack.Config, p stack.Product) string {
	if p.Settings.BudgetAlertWebhook != "" {
		return fmt.Sprintf("%s:%s[%d].settings.budgetAlertWebhook", stack.Namespace, stack.KeyProducts, productIndex(cfg, p.Name))
	}
	return stack.Namespace + ":" + stack.KeyBudgetAlertWebhook
}

// LocalDatabaseID is the database_id the rendered config gives the spend
// database: a UUID derived from its name, stable across renders so that the
// local runtime keeps one database per stack. The deployed database's id
// is Cloudflare's; Pulumi binds that one.
func LocalDatabaseID(name string) string {
	h := sha256.Sum256([]byte("zerocost local d1 " + name))
	x := fmt.Sprintf("%x", h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// defaultPrices is the embedded price file `zerocost cost` reads too.
var defaultPrices = sync.OnceValues(cost.DefaultPrices)

// ModelPricesJSON is the MODEL_PRICES var of a model: its prices from the
// embedded price file, or an error naming the priced models.
func ModelPricesJSON(model string) (string, error) {
	prices, err := defaultPrices()
	if err != nil {
		return "", err
	}
	m, err := prices.Model(model)
	if err != nil {
		return "", fmt.Errorf("%q has no price in %s (priced: %s): zerocost prices every model call against the product's budget and in `zerocost cost`, so pick a priced model or add this one's prices there",
			model, prices.Path, strings.Join(prices.ModelIDs(), ", "))
	}
	b, err := json.Marshal(contract.ModelPrices{
		Model: m.ID, Prices: prices.Name,
		Input: m.InputUSDPerMTok, Output: m.OutputUSDPerMTok,
		CacheRead: m.CacheHitUSDPerMTok, CacheWrite: m.CacheWriteUSDPerMT,
		BatchDiscount: m.BatchDiscount,
	})
	return string(b), err
}

// DefaultRateLimitNamespaceID derives a stable rate-limit namespace id from the
// script name, so that two products never share a limiter by accident.
func DefaultRateLimitNamespaceID(script string) int {
	h := fnv.New32a()
	h.Write([]byte(script))
	return 100000 + int(h.Sum32()%900000)
}

// DefaultDoorNamespaceID derives the door limiter's namespace id from the
// script name, as DefaultRateLimitNamespaceID does, never equal to the model
// limiter's (whose counts it must not share).
func DefaultDoorNamespaceID(script string, rateLimitNamespaceID int) int {
	id := DefaultRateLimitNamespaceID("door:" + script)
	if id == rateLimitNamespaceID {
		id = 100000 + (id-100000+1)%900000
	}
	return id
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
