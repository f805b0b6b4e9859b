// Package cost prices a stack's usage: Cloudflare's Workers, KV, R2 and Queues
// meters and Anthropic's tokens, on Workers Free or Workers Paid, from a dated
// price file (prices/). A forecast prices a usage profile; a report prices the
// usage Cloudflare's analytics measured (package cost/analytics). Both give a
// Report with line items per product, free-tier warnings and cost levers, and
// print it as a table, JSON, Markdown or HTML.
package cost

// Report is a priced period of usage.
type Report struct {
	// Kind is "forecast" or "report".
	Kind string `json:"kind"`
	// Plan is "free" (Workers Free) or "paid" (Workers Paid).
	Plan string `json:"plan"`
	Days int    `json:"days"`
	// Source is the usage profile's path or the stack's name.
	Source string `json:"source"`
	// Since and Until bound a report's period (inclusive dates).
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	// Prices names the price file.
	Prices string `json:"prices"`

	TotalUSD float64 `json:"total_usd"`
	InfraUSD float64 `json:"infra_usd"`
	AIUSD    float64 `json:"ai_usd"`
	// CacheSavingsUSD is what the edge cache's hits would have cost as model calls.
	CacheSavingsUSD float64 `json:"cache_savings_usd"`

	// AccountItems are charges of the account, not of a product (the Workers
	// Paid base fee).
	AccountItems []Item          `json:"account_items"`
	Products     []ProductReport `json:"products"`
	Warnings     []string        `json:"warnings"`
	// FreeLimits are the account's peak daily use of each of Workers Free's
	// daily limits (free plan only).
	FreeLimits []LimitUse `json:"free_limits,omitempty"`
	// Capacity is how far each product, and the stack at its mix, can grow
	// at $0 before a free limit runs out (free plan only; the stack last).
	Capacity []Capacity `json:"capacity,omitempty"`
	// Budgets compare each budgeted product's model spend (and the
	// products' sum, under a stack-wide cap) with its monthly budget.
	Budgets []Budget `json:"budgets,omitempty"`
	Levers  []Lever  `json:"levers"`
	// Notes say how a report's numbers were measured.
	Notes []string `json:"notes,omitempty"`
	// OtherPlan is the same usage priced on the other plan.
	OtherPlan *PlanTotals `json:"other_plan,omitempty"`
}

// LimitUse is the account's peak day of one daily limit.
type LimitUse struct {
	Service  string  `json:"service"`
	Metric   string  `json:"metric"`
	PeakDay  float64 `json:"peak_per_day"`
	LimitDay float64 `json:"limit_per_day"`
	// Use is PeakDay / LimitDay.
	Use float64 `json:"use"`
}

// PlanTotals are a plan's totals.
type PlanTotals struct {
	Plan     string  `json:"plan"`
	TotalUSD float64 `json:"total_usd"`
	InfraUSD float64 `json:"infra_usd"`
	AIUSD    float64 `json:"ai_usd"`
}

// ProductReport is one product's line items.
type ProductReport struct {
	Name     string   `json:"name"`
	Pattern  string   `json:"pattern"`
	Models   []string `json:"models"`
	Requests float64  `json:"requests"`
	// ModelCalls counts the calls to the model (edge-cache: the misses).
	ModelCalls      float64  `json:"model_calls"`
	CacheHitRate    *float64 `json:"cache_hit_rate,omitempty"`
	CacheSavingsUSD float64  `json:"cache_savings_usd,omitempty"`
	InfraUSD        float64  `json:"infra_usd"`
	AIUSD           float64  `json:"ai_usd"`
	TotalUSD        float64  `json:"total_usd"`
	Items           []Item   `json:"items"`
}

// Item is one line: a quantity of a meter, what of it is billed, and the cost.
// USD = Billable * UnitUSD. Billable is what lies past the plan's free or
// included amounts, shared among the products in proportion to their use
// (those amounts are the account's); on Workers Free, Workers, KV and Queues
// bill nothing (their limits refuse work instead, see the warnings).
type Item struct {
	Service string `json:"service"`
	Metric  string `json:"metric"`
	// Model is set on model items.
	Model string `json:"model,omitempty"`
	// Mode is "batch" on model items billed through the Message Batches API
	// (at the model's batch discount); empty for realtime calls.
	Mode     string  `json:"mode,omitempty"`
	Unit     string  `json:"unit"`
	Quantity float64 `json:"quantity"`
	Billable float64 `json:"billable"`
	// UnitUSD is the price of one unit past the free or included amount.
	UnitUSD float64 `json:"unit_usd"`
	USD     float64 `json:"usd"`
}

// Lever is a change that would lower the model bill.
type Lever struct {
	Product string `json:"product"`
	// Lever is "prompt_caching" or "batch_api".
	Lever     string  `json:"lever"`
	Applies   bool    `json:"applies"`
	SavingUSD float64 `json:"saving_usd"`
	Note      string  `json:"note"`
}
