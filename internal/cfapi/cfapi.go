// Package cfapi is zerocost's one setup of Cloudflare API clients (Config:
// environment variables, base URL, token, retries, user agent, and *APIError
// for every failed call; see setup.go), and its read-only view of a Cloudflare
// account (Client): a thin layer over cloudflare-go/v7's service packages (r2,
// queues, workers; not the root package, which pulls in every Cloudflare
// product). Client returns small plain structs and pages through every list
// to its end with a hard bound.
//
// Where cloudflare-go's typed unions would reject a shape it does not know
// (binding and consumer types), the raw JSON of the result is decoded instead.
package cfapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/queues"
	"github.com/cloudflare/cloudflare-go/v7/r2"
	"github.com/cloudflare/cloudflare-go/v7/workers"
	"github.com/cloudflare/cloudflare-go/v7/workflows"
)

// MaxPages bounds every paged list: a server that ignores ?page= would
// otherwise be asked forever.
const MaxPages = 200

// perPage is what lists ask for (the queue API allows up to 100).
const perPage = 100

// Client reads one Cloudflare account's Workers resources.
type Client struct {
	cfg        Config
	buckets    *r2.BucketService
	queues     *queues.QueueService
	scripts    *workers.ScriptService
	subdomains *workers.SubdomainService
	routes     *workers.RouteService
	domains    *workers.DomainService
	databases  *d1.DatabaseService
	workflows  *workflows.WorkflowService
}

// New returns a client.
func New(cfg Config) *Client {
	opts := cfg.Options()
	return &Client{
		cfg:        cfg,
		buckets:    r2.NewBucketService(opts...),
		queues:     queues.NewQueueService(opts...),
		scripts:    workers.NewScriptService(opts...),
		subdomains: workers.NewSubdomainService(opts...),
		routes:     workers.NewRouteService(opts...),
		domains:    workers.NewDomainService(opts...),
		databases:  d1.NewDatabaseService(opts...),
		workflows:  workflows.NewWorkflowService(opts...),
	}
}

func (c *Client) wrap(op string, err error) error { return c.cfg.Wrap(op, err) }

type resultInfo struct {
	Page       int    `json:"page"`
	PerPage    int    `json:"per_page"`
	Count      int    `json:"count"`
	TotalCount int    `json:"total_count"`
	TotalPages int    `json:"total_pages"`
	Cursor     string `json:"cursor"`
}

// infoOf reads result_info from a raw envelope.
func infoOf(raw string) resultInfo {
	var env struct {
		ResultInfo resultInfo `json:"result_info"`
	}
	_ = json.Unmarshal([]byte(raw), &env)
	return env.ResultInfo
}

// pageAll fetches numbered pages until an empty page, the last page
// result_info names, or MaxPages. fetch returns a page's items and its raw
// envelope.
func pageAll[T any](op string, fetch func(page int) ([]T, string, error)) ([]T, error) {
	var all []T
	for page := 1; page <= MaxPages; page++ {
		items, raw, err := fetch(page)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return all, nil
		}
		all = append(all, items...)
		info := infoOf(raw)
		if info.TotalPages > 0 && page >= info.TotalPages {
			return all, nil
		}
		if info.TotalPages == 0 && info.TotalCount == 0 && info.Page == 0 {
			return all, nil // not paginated: no result_info
		}
	}
	return nil, fmt.Errorf("%s: more than %d pages; giving up", op, MaxPages)
}

// convert maps the API's items to ours, never nil.
func convert[S, T any](in []S, f func(S) T) []T {
	out := make([]T, 0, len(in))
	for _, x := range in {
		out = append(out, f(x))
	}
	return out
}

func pageOpts(page int) []option.RequestOption {
	return []option.RequestOption{option.WithQuery("page", strconv.Itoa(page)), option.WithQuery("per_page", strconv.Itoa(perPage))}
}

// listPaged pages (pageAll) through one of the API's numbered lists. list is
// the SDK's List call with the options given; each page's raw answer is
// decoded here, its result as []S, and every item converted by to. Decoding
// the raw JSON, not the SDK's page type, serves every list alike.
func listPaged[S, T any](c *Client, op string, list func(opts ...option.RequestOption) error, to func(S) T) ([]T, error) {
	return pageAll(op, func(page int) ([]T, string, error) {
		var raw []byte
		if err := list(append(pageOpts(page), option.WithResponseBodyInto(&raw))...); err != nil {
			return nil, "", c.wrap(op, err)
		}
		var env struct {
			Result []S `json:"result"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		return convert(env.Result, to), string(raw), nil
	})
}

// Buckets lists the account's R2 bucket names, following the cursor.
func (c *Client) Buckets(ctx context.Context, account string) ([]string, error) {
	const op = "list R2 buckets"
	var p r2.BucketListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	var names []string
	cursor := ""
	for range MaxPages {
		var env struct {
			Result     r2.BucketListResponse `json:"result"`
			ResultInfo resultInfo            `json:"result_info"`
		}
		opts := []option.RequestOption{option.WithResponseBodyInto(&env), option.WithQuery("per_page", "1000")}
		if cursor != "" {
			opts = append(opts, option.WithQuery("cursor", cursor))
		}
		if _, err := c.buckets.List(ctx, p, opts...); err != nil {
			return nil, c.wrap(op, err)
		}
		for _, b := range env.Result.Buckets {
			names = append(names, b.Name)
		}
		if env.ResultInfo.Cursor == "" || env.ResultInfo.Cursor == cursor || len(env.Result.Buckets) == 0 {
			return names, nil
		}
		cursor = env.ResultInfo.Cursor
	}
	return nil, fmt.Errorf("%s: more than %d pages; giving up", op, MaxPages)
}

// Queue is a queue.
type Queue struct {
	ID   string
	Name string
}

// Queues lists the account's queues.
func (c *Client) Queues(ctx context.Context, account string) ([]Queue, error) {
	var p queues.QueueListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	return listPaged(c, "list queues", func(opts ...option.RequestOption) error {
		_, err := c.queues.List(ctx, p, opts...)
		return err
	}, func(q queues.Queue) Queue { return Queue{ID: q.QueueID, Name: q.QueueName} })
}

// D1Database is a D1 database; ID is its uuid.
type D1Database struct {
	ID   string
	Name string
}

// D1Databases lists the account's D1 databases.
func (c *Client) D1Databases(ctx context.Context, account string) ([]D1Database, error) {
	var p d1.DatabaseListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	return listPaged(c, "list D1 databases", func(opts ...option.RequestOption) error {
		_, err := c.databases.List(ctx, p, opts...)
		return err
	}, func(db d1.DatabaseListResponse) D1Database { return D1Database{ID: db.UUID, Name: db.Name} })
}

// Consumer is a queue consumer. Times are as the API reports them:
// MaxWaitTimeMs in milliseconds, RetryDelay in seconds. MaxConcurrency is nil
// when the API reports null (the platform's maximum).
type Consumer struct {
	ID              string
	QueueName       string
	ScriptName      string
	Type            string
	DeadLetterQueue string
	BatchSize       int
	MaxRetries      int
	MaxWaitTimeMs   int
	RetryDelay      int
	MaxConcurrency  *int
}

type consumerJSON struct {
	ConsumerID      string `json:"consumer_id"`
	QueueName       string `json:"queue_name"`
	ScriptName      string `json:"script_name"`
	Script          string `json:"script"`
	Service         string `json:"service"` // the 2024 shape
	Type            string `json:"type"`
	DeadLetterQueue string `json:"dead_letter_queue"`
	Settings        struct {
		BatchSize      *float64 `json:"batch_size"`
		MaxRetries     *float64 `json:"max_retries"`
		MaxWaitTimeMs  *float64 `json:"max_wait_time_ms"`
		RetryDelay     *float64 `json:"retry_delay"`
		MaxConcurrency *float64 `json:"max_concurrency"`
	} `json:"settings"`
}

func num(f *float64) int {
	if f == nil {
		return 0
	}
	return int(*f)
}

// Consumers lists a queue's consumers.
func (c *Client) Consumers(ctx context.Context, account, queueID string) ([]Consumer, error) {
	var p queues.ConsumerListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	return listPaged(c, "list queue consumers", func(opts ...option.RequestOption) error {
		_, err := c.queues.Consumers.List(ctx, queueID, p, opts...)
		return err
	}, consumerOf)
}

// consumerOf reads a consumer in either of the API's shapes.
func consumerOf(j consumerJSON) Consumer {
	cs := Consumer{
		ID: j.ConsumerID, QueueName: j.QueueName, ScriptName: j.ScriptName, Type: j.Type,
		DeadLetterQueue: j.DeadLetterQueue, BatchSize: num(j.Settings.BatchSize), MaxRetries: num(j.Settings.MaxRetries),
		MaxWaitTimeMs: num(j.Settings.MaxWaitTimeMs), RetryDelay: num(j.Settings.RetryDelay),
	}
	if cs.ScriptName == "" {
		cs.ScriptName = firstNonEmpty(j.Script, j.Service)
	}
	if cs.Type == "" && cs.ScriptName != "" {
		cs.Type = "worker"
	}
	if j.Settings.MaxConcurrency != nil {
		n := int(*j.Settings.MaxConcurrency)
		cs.MaxConcurrency = &n
	}
	return cs
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Binding is a Worker binding as GET .../settings reports it. Secrets carry
// no text.
type Binding struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	NamespaceID string `json:"namespace_id"`
	BucketName  string `json:"bucket_name"`
	QueueName   string `json:"queue_name"`
	Text        string `json:"text"`
	Dataset     string `json:"dataset"`
	// ID is a d1 binding's database uuid (the API's id; DatabaseID is the
	// newer spelling some answers use).
	ID         string `json:"id"`
	DatabaseID string `json:"database_id"`
	// WorkflowName and ClassName: a workflow binding's Workflow and class.
	WorkflowName string `json:"workflow_name"`
	ClassName    string `json:"class_name"`
	Simple       *struct {
		Limit  float64 `json:"limit"`
		Period float64 `json:"period"`
	} `json:"simple"`
}

// ScriptSettings is what verify compares of a Worker.
type ScriptSettings struct {
	CompatibilityDate string
	Bindings          []Binding
}

// ScriptSettings reads a Worker's bindings; a missing script is an
// *APIError for which IsNotFound is true.
func (c *Client) ScriptSettings(ctx context.Context, account, script string) (*ScriptSettings, error) {
	op := "read settings of Worker " + script
	var p workers.ScriptScriptAndVersionSettingGetParams
	p.AccountID.Value, p.AccountID.Present = account, true
	var raw []byte
	if _, err := c.scripts.ScriptAndVersionSettings.Get(ctx, script, p, option.WithResponseBodyInto(&raw)); err != nil {
		return nil, c.wrap(op, err)
	}
	var env struct {
		Result struct {
			CompatibilityDate string    `json:"compatibility_date"`
			Bindings          []Binding `json:"bindings"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &ScriptSettings{CompatibilityDate: env.Result.CompatibilityDate, Bindings: env.Result.Bindings}, nil
}

// ScriptOnWorkersDev reports whether the script answers on workers.dev.
func (c *Client) ScriptOnWorkersDev(ctx context.Context, account, script string) (bool, error) {
	op := "read workers.dev setting of Worker " + script
	var p workers.ScriptSubdomainGetParams
	p.AccountID.Value, p.AccountID.Present = account, true
	res, err := c.scripts.Subdomain.Get(ctx, script, p)
	if err != nil {
		return false, c.wrap(op, err)
	}
	return res.Enabled, nil
}

// AccountSubdomain returns the account's workers.dev subdomain.
func (c *Client) AccountSubdomain(ctx context.Context, account string) (string, error) {
	const op = "read the account's workers.dev subdomain"
	var p workers.SubdomainGetParams
	p.AccountID.Value, p.AccountID.Present = account, true
	res, err := c.subdomains.Get(ctx, p)
	if err != nil {
		return "", c.wrap(op, err)
	}
	return res.Subdomain, nil
}

// Route is a zone's Workers route.
type Route struct {
	ID      string
	Pattern string
	Script  string
}

// Routes lists a zone's Workers routes.
func (c *Client) Routes(ctx context.Context, zone string) ([]Route, error) {
	op := "list Workers routes of zone " + zone
	var p workers.RouteListParams
	p.ZoneID.Value, p.ZoneID.Present = zone, true
	res, err := c.routes.List(ctx, p)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	return convert(res.Result, func(r workers.RouteListResponse) Route { return Route{ID: r.ID, Pattern: r.Pattern, Script: r.Script} }), nil
}

// CustomDomain is a Worker custom domain.
type CustomDomain struct {
	ID       string
	Hostname string
	Service  string
	ZoneID   string
}

// CustomDomains lists the account's Worker custom domains.
func (c *Client) CustomDomains(ctx context.Context, account string) ([]CustomDomain, error) {
	const op = "list Worker custom domains"
	var p workers.DomainListParams
	p.AccountID.Value, p.AccountID.Present = account, true
	res, err := c.domains.List(ctx, p)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	return convert(res.Result, func(d workers.DomainListResponse) CustomDomain {
		return CustomDomain{ID: d.ID, Hostname: d.Hostname, Service: d.Service, ZoneID: d.ZoneID}
	}), nil
}
