package cost

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/zerocost/zerocost/prices"
)

// Services, in the order reports list them.
const (
	Workers = "workers"
	KV      = "kv"
	R2      = "r2"
	Queues  = "queues"
	// D1 is Cloudflare's SQL database (the spend guard's counter).
	D1 = "d1"
	// Analytics is Workers Analytics Engine.
	Analytics = "analytics_engine"
	Model     = "model"
)

// Metrics.
const (
	Requests    = "requests"
	CPUms       = "cpu_ms"
	Reads       = "reads"
	Writes      = "writes"
	Deletes     = "deletes"
	Lists       = "lists"
	Storage     = "storage" // GB-month
	ClassA      = "class_a"
	ClassB      = "class_b"
	Operations  = "operations"
	DataPoints  = "data_points"
	RowsRead    = "rows_read"
	RowsWritten = "rows_written"

	InputTokens      = "input_tokens"
	OutputTokens     = "output_tokens"
	CacheReadTokens  = "cache_read_tokens"
	CacheWriteTokens = "cache_write_tokens"
)

// Meter names one metered quantity: a service and a metric.
type Meter struct {
	Service string
	Metric  string
}

func (m Meter) String() string { return m.Service + " " + m.Metric }

// Meters lists every Cloudflare meter a price file must price, in report order.
var Meters = []Meter{
	{Workers, Requests}, {Workers, CPUms},
	{KV, Reads}, {KV, Writes}, {KV, Deletes}, {KV, Lists}, {KV, Storage},
	{R2, ClassA}, {R2, ClassB}, {R2, Storage},
	{Queues, Operations},
	{D1, RowsRead}, {D1, RowsWritten}, {D1, Storage},
	{Analytics, DataPoints},
}

func meterOrder(m Meter) int {
	for i, x := range Meters {
		if x == m {
			return i
		}
	}
	return len(Meters)
}

// MeterPrice says how one meter is charged (see prices/2026-11.toml).
type MeterPrice struct {
	Service              string  `toml:"service"`
	Metric               string  `toml:"metric"`
	Unit                 string  `toml:"unit"`
	FreePerDay           float64 `toml:"free_per_day"`
	FreeCap              float64 `toml:"free_cap"`
	AllowancePerMonth    float64 `toml:"allowance_per_month"`
	PaidIncludedPerMonth float64 `toml:"paid_included_per_month"`
	USDPerMillion        float64 `toml:"usd_per_million"`
	USDPerGBMonth        float64 `toml:"usd_per_gb_month"`
	Source               string  `toml:"source"`
}

// UnitUSD is the price of one unit (one operation, one GB-month).
func (m *MeterPrice) UnitUSD() float64 {
	if m.USDPerGBMonth > 0 {
		return m.USDPerGBMonth
	}
	return m.USDPerMillion / 1e6
}

// PriceLabel is the price as the file states it, e.g. "$0.50/M" or "$0.015/GB-month".
func (m *MeterPrice) PriceLabel() string {
	if m.USDPerGBMonth > 0 {
		return "$" + priceNum(m.USDPerGBMonth) + "/GB-month"
	}
	return "$" + priceNum(m.USDPerMillion) + "/M"
}

// ModelPrice is one model's token prices, per million tokens.
type ModelPrice struct {
	ID                  string  `toml:"id"`
	InputUSDPerMTok     float64 `toml:"input_usd_per_mtok"`
	OutputUSDPerMTok    float64 `toml:"output_usd_per_mtok"`
	CacheWriteUSDPerMT  float64 `toml:"cache_write_usd_per_mtok"`
	CacheWrite1hUSDPerM float64 `toml:"cache_write_1h_usd_per_mtok"`
	CacheHitUSDPerMTok  float64 `toml:"cache_hit_usd_per_mtok"`
	BatchDiscount       float64 `toml:"batch_discount"`
	MinCacheTokens      int     `toml:"min_cache_tokens"`
	Source              string  `toml:"source"`
	CacheSource         string  `toml:"cache_source"`
}

// TokenUSD is the price of one token of the metric (InputTokens, ...).
func (m *ModelPrice) TokenUSD(metric string) float64 {
	switch metric {
	case InputTokens:
		return m.InputUSDPerMTok / 1e6
	case OutputTokens:
		return m.OutputUSDPerMTok / 1e6
	case CacheReadTokens:
		return m.CacheHitUSDPerMTok / 1e6
	case CacheWriteTokens:
		return m.CacheWriteUSDPerMT / 1e6
	}
	return 0
}

// Prices is a parsed price file.
type Prices struct {
	Name        string `toml:"name"`
	Date        string `toml:"date"`
	WorkersPaid struct {
		BaseUSDPerMonth float64 `toml:"base_usd_per_month"`
		Source          string  `toml:"source"`
	} `toml:"workers_paid"`
	WorkersFree struct {
		CPUmsPerInvocation float64 `toml:"cpu_ms_per_invocation"`
		Source             string  `toml:"source"`
	} `toml:"workers_free"`
	MeterList []MeterPrice `toml:"meter"`
	ModelList []ModelPrice `toml:"model"`

	// Path is where the prices came from, for messages.
	Path   string                `toml:"-"`
	meters map[Meter]*MeterPrice `toml:"-"`
	models map[string]*ModelPrice
}

// Meter returns the price of a meter; Parse guarantees every one of Meters.
func (p *Prices) Meter(m Meter) *MeterPrice { return p.meters[m] }

// Model returns a model's prices, or an error that names the model and the
// models the price file knows.
func (p *Prices) Model(id string) (*ModelPrice, error) {
	if m, ok := p.models[id]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("unknown model %q: the price file %s prices %s (add it there or pass --prices FILE)", id, p.Path, strings.Join(p.ModelIDs(), ", "))
}

// ModelIDs lists the priced models, sorted.
func (p *Prices) ModelIDs() []string {
	ids := make([]string, 0, len(p.models))
	for id := range p.models {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// DefaultPrices parses the embedded price file.
func DefaultPrices() (*Prices, error) { return ParsePrices(prices.CurrentPath, prices.Current) }

// LoadPrices reads a price file; "" means the embedded one.
func LoadPrices(path string) (*Prices, error) {
	if path == "" {
		return DefaultPrices()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePrices(path, data)
}

// ParsePrices decodes a price file strictly (an unknown key is an error) and
// checks that it prices every meter, that every price has a source page, and
// that no amount is negative.
func ParsePrices(path string, data []byte) (*Prices, error) {
	p := &Prices{Path: path}
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &priceCheck{path: path}
	for _, k := range md.Undecoded() {
		c.add("unknown key %s", k)
	}
	if p.Name == "" {
		c.add("name: missing")
	}
	c.source("workers_paid.source", p.WorkersPaid.Source)
	c.source("workers_free.source", p.WorkersFree.Source)
	if p.WorkersPaid.BaseUSDPerMonth < 0 {
		c.add("workers_paid.base_usd_per_month: negative")
	}
	if p.WorkersFree.CPUmsPerInvocation <= 0 {
		c.add("workers_free.cpu_ms_per_invocation: must be positive")
	}
	c.meters(p)
	c.models(p)
	if len(p.models) == 0 {
		c.add("no [[model]] prices")
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	return p, nil
}

// priceCheck gathers the errors of a price file.
type priceCheck struct {
	path string
	errs []error
}

func (c *priceCheck) add(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(c.path+": "+format, args...))
}

// source checks that a price names the https:// URL of its source page.
func (c *priceCheck) source(field, src string) {
	if !strings.HasPrefix(src, "https://") {
		c.add("%s: every price needs the https:// URL of its source page", field)
	}
}

// meters indexes the meter prices and checks them: known meters, each
// priced once, no negative amount.
func (c *priceCheck) meters(p *Prices) {
	p.meters = map[Meter]*MeterPrice{}
	for i := range p.MeterList {
		m := &p.MeterList[i]
		field := fmt.Sprintf("meter[%d] (%s %s)", i, m.Service, m.Metric)
		key := Meter{m.Service, m.Metric}
		if meterOrder(key) == len(Meters) {
			c.add("%s: unknown meter (known: %s)", field, meterNames())
			continue
		}
		if _, dup := p.meters[key]; dup {
			c.add("%s: priced twice", field)
		}
		p.meters[key] = m
		c.source(field+".source", m.Source)
		for name, v := range map[string]float64{
			"free_per_day": m.FreePerDay, "free_cap": m.FreeCap, "allowance_per_month": m.AllowancePerMonth,
			"paid_included_per_month": m.PaidIncludedPerMonth, "usd_per_million": m.USDPerMillion, "usd_per_gb_month": m.USDPerGBMonth,
		} {
			if v < 0 {
				c.add("%s.%s: negative", field, name)
			}
		}
		if m.Metric != Storage && m.USDPerGBMonth != 0 {
			c.add("%s: usd_per_gb_month is for storage meters only", field)
		}
		if m.Metric == Storage && m.USDPerMillion != 0 {
			c.add("%s: usd_per_million is for operations, not storage", field)
		}
	}
	for _, m := range Meters {
		if _, ok := p.meters[m]; !ok {
			c.add("no [[meter]] prices %s", m)
		}
	}
}

// models indexes the model prices and checks them: an id, each priced once,
// positive token prices, a batch discount that is a fraction.
func (c *priceCheck) models(p *Prices) {
	p.models = map[string]*ModelPrice{}
	for i := range p.ModelList {
		m := &p.ModelList[i]
		field := fmt.Sprintf("model[%d] (%s)", i, m.ID)
		if m.ID == "" {
			c.add("model[%d].id: missing", i)
			continue
		}
		if _, dup := p.models[m.ID]; dup {
			c.add("%s: priced twice", field)
		}
		p.models[m.ID] = m
		c.source(field+".source", m.Source)
		c.source(field+".cache_source", m.CacheSource)
		if m.InputUSDPerMTok <= 0 || m.OutputUSDPerMTok <= 0 {
			c.add("%s: input_usd_per_mtok and output_usd_per_mtok must be positive", field)
		}
		if m.CacheWriteUSDPerMT < 0 || m.CacheHitUSDPerMTok < 0 || m.CacheWrite1hUSDPerM < 0 {
			c.add("%s: negative cache price", field)
		}
		if m.BatchDiscount < 0 || m.BatchDiscount >= 1 {
			c.add("%s.batch_discount: %v is not a fraction in [0, 1)", field, m.BatchDiscount)
		}
		if m.MinCacheTokens <= 0 {
			c.add("%s.min_cache_tokens: must be positive", field)
		}
	}
}

func meterNames() string {
	s := make([]string, len(Meters))
	for i, m := range Meters {
		s[i] = m.Service + "/" + m.Metric
	}
	return strings.Join(s, ", ")
}
