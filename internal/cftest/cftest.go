// Package cftest is a fake Cloudflare API v4 server. It keeps its state in
// memory, answers in the JSON shapes Cloudflare documents, and serves every
// call the Cloudflare Terraform/Pulumi provider (pulumi-resource-cloudflare
// 6.18.0 = terraform-provider-cloudflare v5.22.0) makes for the resources
// zerocost deploys, so a real `pulumi up` can run offline against it. Tests
// drive it from Go (seed state, inject faults, inspect what arrived); the
// fakecf command runs it on its own.
//
// Start it with Start (any program) or New (a test: it stops when the test
// ends) and point clients at BaseURL. Afterwards read Snapshot (a deep copy
// of the state; Update gives locked access), Script (one Worker as uploaded:
// code, bindings with their secret texts, schedules), Versions, Deployments
// and Active (what an upload or a rollback deployed), Requests (every call
// with its status) and Unknown (calls the fake has no route for).
//
// # Envelope
//
// Every JSON answer is the v4 envelope:
//
//	{"success": true, "errors": [], "messages": [], "result": ..., "result_info": {...}}
//
// result_info is present on paginated lists only. A failure is
//
//	{"success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": [], "result": null}
//
// with the HTTP status Cloudflare uses. Failures the fake decides on (not
// injected faults) also carry `x-should-retry: false`, so that cloudflare-go
// (which retries 408, 409, 429 and 5xx up to ten times, for minutes) fails at
// once on a conflict instead of stalling.
//
// # What it serves
//
// See routes.go for the table. In short: KV namespaces and their values
// (kvvalues.go: the calls of cloudflare-go's kv package), R2 buckets (with
// cf-r2-jurisdiction), queues and their consumers, Worker scripts (the
// multipart upload, settings, content, the services view, workers.dev
// subdomain, cron schedules, versions and deployments), custom domains, zone
// routes and D1 databases.
//
// # Unknown requests
//
// A method and path the fake does not serve is answered as Cloudflare
// answers a route it does not have: HTTP 400 with
// {"code": 7000, "message": "No route for that URI"} (and x-should-retry:
// false). It is recorded: Unknown lists every such request, so a test can
// fail on any call the fake does not know instead of passing on a guess.
//
// # Pagination
//
// KV namespaces, queues, queue consumers and D1 databases are paged by
// number: ?page= (from 1) and ?per_page= (default DefaultPerPage, at most the
// server's MaxPerPage). result_info is {page, per_page, count, total_count,
// total_pages}, and a page past the end is an empty result, which is what
// ends cloudflare-go's auto-pager. R2 buckets are paged by cursor: result is
// {"buckets": [...]}, result_info is {cursor, per_page}, and the last page has
// an empty cursor. Scripts, routes and custom domains are single pages.
//
// # Shapes newer than the 2024 schema
//
// Where Cloudflare's current API (and cloudflare-go v7, generated from it)
// differs from the 2024 OpenAPI subset in testdata/cloudflare-api, the fake
// answers the current shape: the R2 list's result is {"buckets": [...]}; a
// queue's consumers and producers are arrays; a consumer has a type, names
// its Worker in both `script` (what the live API returns and the provider
// reads) and `script_name` (what cloudflare-go's schema names); GET
// .../settings lists plain_text, secret_text, ratelimit and analytics_engine
// bindings; the account subdomain is {"subdomain": ...}. Endpoints missing
// from the subset (workers/services/{name}, scripts/{name}/subdomain, a
// consumer by id, PATCH of a bucket, D1) follow cloudflare-go v7 and, for
// workers/services, the shape wrangler reads.
//
// # Errors
//
// A request without "Authorization: Bearer ..." is 400 with code 9106; a
// token other than the server's (see WithToken) is 403 with code 10000
// "Authentication error", as is an account or zone the server does not know.
// A missing object is 404 with the code of its API (KV 10013, R2 10006,
// queues 11000, consumers 11001, scripts 10007, services 10090, routes 10020,
// D1 7404). AddFault makes any request fail with a chosen status and errors.
package cftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Page sizes for number-paged lists.
const (
	DefaultPerPage = 20
	DefaultMaxPer  = 100
)

// Timestamp is the creation and modification time of every object the fake makes.
const Timestamp = "2026-01-01T00:00:00Z"

// Message is one entry of an envelope's errors or messages.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Errors Cloudflare answers with.
var (
	ErrMissingAuth    = Message{9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}
	ErrAuthentication = Message{10000, "Authentication error"}
	// ErrNoRoute is what Cloudflare answers (HTTP 400) for a method and path
	// it has no route for.
	ErrNoRoute = Message{7000, "No route for that URI"}
	// ErrMethod is kept for callers that inject it as a fault; the fake itself
	// answers an unserved method with ErrNoRoute.
	ErrMethod     = Message{10405, "Method not allowed"}
	ErrBadRequest = Message{10001, "Invalid request body"}
)

// KVNamespace is a Workers KV namespace.
type KVNamespace struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

// Bucket is an R2 bucket. Jurisdiction "" is the default jurisdiction.
type Bucket struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date"`
	Location     string `json:"location,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// Lifecycle is the rules of the last PUT .../lifecycle, as sent (nil:
	// never set); the bucket's API answers leave it out.
	Lifecycle json.RawMessage `json:"lifecycle,omitempty"`
}

// Queue is a queue; its consumers are listed under it.
type Queue struct {
	ID         string
	Name       string
	CreatedOn  string
	ModifiedOn string
	Settings   QueueSettings
	Consumers  []Consumer
}

// QueueSettings are a queue's settings (seconds).
type QueueSettings struct {
	DeliveryDelay          int  `json:"delivery_delay"`
	DeliveryPaused         bool `json:"delivery_paused"`
	MessageRetentionPeriod int  `json:"message_retention_period"`
}

// DefaultQueueSettings are a new queue's settings: no delay, not paused,
// messages kept 4 days (Cloudflare's default retention).
var DefaultQueueSettings = QueueSettings{MessageRetentionPeriod: 345600}

// Consumer is a queue consumer, in the newer API shape (a type, and the
// Worker's name; not the 2024 schema's service and environment). Answers
// name the Worker in both `script` and `script_name`.
type Consumer struct {
	ID              string           `json:"consumer_id"`
	CreatedOn       string           `json:"created_on"`
	QueueName       string           `json:"queue_name"`
	ScriptName      string           `json:"script_name,omitempty"`
	Type            string           `json:"type"`
	DeadLetterQueue string           `json:"dead_letter_queue"`
	Settings        ConsumerSettings `json:"settings"`
}

// ConsumerSettings are a consumer's settings; MaxWaitTimeMs is milliseconds,
// RetryDelay seconds. A nil MaxConcurrency is JSON null (the platform's
// maximum). VisibilityTimeoutMs is for http_pull consumers only.
type ConsumerSettings struct {
	BatchSize           int  `json:"batch_size"`
	MaxConcurrency      *int `json:"max_concurrency"`
	MaxRetries          int  `json:"max_retries"`
	MaxWaitTimeMs       int  `json:"max_wait_time_ms"`
	RetryDelay          int  `json:"retry_delay"`
	VisibilityTimeoutMs *int `json:"visibility_timeout_ms,omitempty"`
}

// RateLimitSimple is a ratelimit binding's configuration.
type RateLimitSimple struct {
	Limit  int `json:"limit"`
	Period int `json:"period"`
}

// Module is one code part of a Worker upload, byte for byte.
type Module struct {
	Name        string
	ContentType string
	Content     string
}

// Schedule is one cron trigger of a Worker.
type Schedule struct {
	Cron       string `json:"cron"`
	CreatedOn  string `json:"created_on"`
	ModifiedOn string `json:"modified_on"`
}

// Script is a Worker script. Scripts seeded with PutScript have only the
// fields a test sets; an upload (PUT .../workers/scripts/{name}) sets them
// all from its parts and metadata.
type Script struct {
	Name               string
	CompatibilityDate  string
	CompatibilityFlags []string
	// Bindings are the bindings exactly as uploaded, secret texts included
	// (no GET ever returns a secret's text).
	Bindings []Binding
	// WorkersDev is whether the script answers on the account's workers.dev
	// subdomain (GET .../subdomain "enabled").
	WorkersDev      bool
	PreviewsEnabled bool

	// MainModule names the ES module that is the entry point; BodyPart the
	// service-worker script part (one of the two is set by an upload).
	MainModule string
	BodyPart   string
	// Modules are the uploaded code parts, the entry point first.
	Modules []Module
	// Metadata is the upload's metadata part, verbatim.
	Metadata   json.RawMessage
	UsageModel string
	Logpush    bool
	// Optional settings echoed back as uploaded (nil when not uploaded).
	Limits, Observability, Placement, TailConsumers json.RawMessage
	// Annotations of the last upload (workers/message, workers/tag).
	Annotations map[string]string
	Schedules   []Schedule
	// Tag is the script's immutable id; Etag a hash of its content and metadata.
	Tag, Etag             string
	CreatedOn, ModifiedOn string
	Handlers              []string
}

// Code is the entry point's content ("" when nothing was uploaded).
func (sc *Script) Code() string {
	if len(sc.Modules) == 0 {
		return ""
	}
	return sc.Modules[0].Content
}

// Binding returns the script's binding of that name.
func (sc *Script) Binding(name string) (Binding, bool) {
	for _, b := range sc.Bindings {
		if b.Name == name {
			return b, true
		}
	}
	return Binding{}, false
}

// Route is a zone's Workers route.
type Route struct {
	ID      string `json:"id"`
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
}

// CustomDomain is a Worker custom domain.
type CustomDomain struct {
	ID          string `json:"id"`
	Hostname    string `json:"hostname"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	ZoneID      string `json:"zone_id"`
	ZoneName    string `json:"zone_name"`
	CertID      string `json:"cert_id"`
}

// D1Database is a D1 database.
type D1Database struct {
	UUID         string `json:"uuid"`
	Name         string `json:"name"`
	CreatedAt    string `json:"created_at"`
	Version      string `json:"version"`
	NumTables    int    `json:"num_tables"`
	FileSize     int    `json:"file_size"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	// ReadReplication is the mode ("auto" or "disabled") when one was set.
	ReadReplication string `json:"-"`
	// Tables are the rows the query endpoint reads, by table name (see
	// SeedD1Rows and d1query.go).
	Tables map[string][]map[string]any `json:"-"`
}

// Account is one account's resources.
type Account struct {
	KVNamespaces  []KVNamespace
	Buckets       []Bucket
	Queues        []*Queue
	Scripts       []*Script
	CustomDomains []CustomDomain
	D1Databases   []D1Database
	Workflows     []Workflow
	// Subdomain is the account's workers.dev subdomain; "" answers 404.
	Subdomain string
}

// Zone is one zone: its name (for custom domains) and its Workers routes.
type Zone struct {
	Name   string
	Routes []Route
}

// State is everything the server holds. Change it with Server.Update.
type State struct {
	Accounts map[string]*Account
	Zones    map[string]*Zone
}

// Fault makes matching requests fail. Method "" matches every method; Path
// is matched as a prefix of the path after /client/v4 (e.g.
// "/accounts/abc/r2/buckets"). Times is how many requests fail (0: all).
type Fault struct {
	Method string
	Path   string
	Status int
	Errors []Message
	Times  int
}

// Request is one request the server received.
type Request struct {
	Method string
	// Path is the path after /client/v4 (the whole path when it lacks that prefix).
	Path  string
	Query url.Values
	// Status is the HTTP status the server answered.
	Status int
}

func (r Request) String() string { return fmt.Sprintf("%s %s -> %d", r.Method, r.Path, r.Status) }

// Server is the fake API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's root, http://127.0.0.1:port.
	URL string

	srv        *http.Server
	t          testing.TB
	token      string
	maxPerPage int
	logf       func(format string, args ...any)
	now        func() time.Time

	mu        sync.Mutex
	state     State
	histories map[string]*scriptHistory     // "account/script"
	kv        map[string]map[string]KVValue // "account/namespace" -> key name
	faults    []*Fault
	requests  []Request
	unknown   []Request
	nextID    int
	closeOnce sync.Once
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server accept only this API token (default: any token).
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithMaxPerPage caps per_page (default DefaultMaxPer); a small cap makes
// short lists span several pages.
func WithMaxPerPage(n int) Option { return func(s *Server) { s.maxPerPage = n } }

// WithAccount makes accounts known from the start (see AddAccount).
func WithAccount(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.account(id)
		}
	}
}

// WithZone makes a zone known from the start; name ("" if unknown) is the
// zone's domain, which custom domains on it report as zone_name.
func WithZone(id, name string) Option {
	return func(s *Server) { s.zone(id).Name = name }
}

// WithLogf logs one line per request (method, path, status) through logf,
// and unknown requests loudly.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(s *Server) { s.logf = logf }
}

// WithClock sets the clock the server checks compatibility dates against
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

func newServer(opts []Option) *Server {
	s := &Server{maxPerPage: DefaultMaxPer, now: time.Now, histories: map[string]*scriptHistory{},
		state: State{Accounts: map[string]*Account{}, Zones: map[string]*Zone{}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Start listens on addr (host:port; port 0 picks a free one) and serves the
// fake API until Close. It needs no test: the fakecf command uses it.
func Start(addr string, opts ...Option) (*Server, error) {
	s := newServer(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.URL = "http://" + ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// New starts a server on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatalf("cftest: %v", err)
	}
	s.t = t
	t.Cleanup(s.Close)
	return s
}

// BaseURL is what cloudflare-go's option.WithBaseURL and the provider's
// cloudflare:baseUrl (or CLOUDFLARE_BASE_URL) take.
func (s *Server) BaseURL() string { return s.URL + "/client/v4/" }

// Close stops the server (New also stops it when the test ends).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.srv != nil {
			_ = s.srv.Close()
		}
	})
}

// Update runs fn with the server's state locked. Use AddAccount and AddZone
// to create accounts and zones.
func (s *Server) Update(fn func(*State)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.state)
}

// AddFault makes matching requests fail until Times of them have.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults removes every fault, spent or not.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Snapshot is a deep copy of the state, safe to read while the server runs.
// Scripts keep their secret texts (Script.Bindings are as uploaded).
func (s *Server) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := State{Accounts: map[string]*Account{}, Zones: map[string]*Zone{}}
	for id, a := range s.state.Accounts {
		c := *a
		c.KVNamespaces = slices.Clone(a.KVNamespaces)
		c.Buckets = slices.Clone(a.Buckets)
		c.CustomDomains = slices.Clone(a.CustomDomains)
		c.D1Databases = slices.Clone(a.D1Databases)
		c.Workflows = slices.Clone(a.Workflows)
		for i, wf := range c.Workflows {
			c.Workflows[i].Schedules = slices.Clone(wf.Schedules)
		}
		c.Queues = nil
		for _, q := range a.Queues {
			qc := *q
			qc.Consumers = slices.Clone(q.Consumers)
			for i, cons := range qc.Consumers {
				if cons.Settings.MaxConcurrency != nil {
					qc.Consumers[i].Settings.MaxConcurrency = ptr(*cons.Settings.MaxConcurrency)
				}
				if cons.Settings.VisibilityTimeoutMs != nil {
					qc.Consumers[i].Settings.VisibilityTimeoutMs = ptr(*cons.Settings.VisibilityTimeoutMs)
				}
			}
			c.Queues = append(c.Queues, &qc)
		}
		c.Scripts = nil
		for _, sc := range a.Scripts {
			cp := cloneScript(sc)
			c.Scripts = append(c.Scripts, &cp)
		}
		out.Accounts[id] = &c
	}
	for id, z := range s.state.Zones {
		c := *z
		c.Routes = slices.Clone(z.Routes)
		out.Zones[id] = &c
	}
	return out
}

// Requests lists the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// PagesAsked lists, in order, the page query parameter ("" when absent) of
// the requests whose path ends in suffix: how a client paged through a list.
func (s *Server) PagesAsked(suffix string) []string {
	var out []string
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			out = append(out, r.Query.Get("page"))
		}
	}
	return out
}

// Unknown lists the requests the server has no route for (each answered 400
// with code 7000). A test that drives a real client should fail when it is
// not empty.
func (s *Server) Unknown() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unknown)
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%032x", 0xcf000000+s.nextID)
}

func (s *Server) uuid() string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xcf000000+s.nextID, s.nextID)
}

func (s *Server) fatalf(format string, args ...any) {
	if s.t != nil {
		s.t.Helper()
		s.t.Fatalf(format, args...)
		return
	}
	panic(fmt.Sprintf(format, args...))
}

// AddAccount makes an account known (requests to unknown accounts get 403).
func (s *Server) AddAccount(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account(id)
}

// AddZone makes a zone known.
func (s *Server) AddZone(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone(id)
}

// AddZoneNamed makes a zone known with its domain name (example.com).
func (s *Server) AddZoneNamed(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone(id).Name = name
}

func (s *Server) account(id string) *Account { return entry(s.state.Accounts, id) }

func (s *Server) zone(id string) *Zone { return entry(s.state.Zones, id) }

// entry is m's element for key, added empty when m has none.
func entry[V any](m map[string]*V, key string) *V {
	v := m[key]
	if v == nil {
		v = new(V)
		m[key] = v
	}
	return v
}

// addTo is what the AddX seeding methods share: under the lock, it builds
// an element (build may draw ids), appends it to the account's list that
// field picks and returns it.
func addTo[T any](s *Server, account string, field func(*Account) *[]T, build func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := build()
	list := field(s.account(account))
	*list = append(*list, v)
	return v
}

// AddKVNamespace creates a namespace and returns it with its new id.
func (s *Server) AddKVNamespace(account, title string) KVNamespace {
	return addTo(s, account, func(a *Account) *[]KVNamespace { return &a.KVNamespaces }, func() KVNamespace {
		return KVNamespace{ID: s.id(), Title: title, SupportsURLEncoding: true}
	})
}

// AddBucket creates an R2 bucket in the default jurisdiction.
func (s *Server) AddBucket(account, name string) Bucket {
	return addTo(s, account, func(a *Account) *[]Bucket { return &a.Buckets }, func() Bucket {
		return Bucket{Name: name, CreationDate: Timestamp, Location: "enam", StorageClass: "Standard"}
	})
}

// SetBucketLifecycle gives a bucket of the default jurisdiction the rules
// a PUT .../lifecycle would (a JSON list, kept as given).
func (s *Server) SetBucketLifecycle(account, bucket string, rules json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(account)
	for i := range a.Buckets {
		if a.Buckets[i].Name == bucket && a.Buckets[i].Jurisdiction == "" {
			a.Buckets[i].Lifecycle = rules
		}
	}
}

// AddQueue creates a queue and returns its id.
func (s *Server) AddQueue(account, name string) string {
	return addTo(s, account, func(a *Account) *[]*Queue { return &a.Queues }, func() *Queue {
		return &Queue{ID: s.id(), Name: name, CreatedOn: Timestamp, ModifiedOn: Timestamp, Settings: DefaultQueueSettings}
	}).ID
}

// AddConsumer adds a consumer to the named queue; Type defaults to "worker".
// It returns the consumer with its id. The queue must exist. Unlike the
// API, it does not check the consumer against the queue's others.
func (s *Server) AddConsumer(account, queueName string, c Consumer) Consumer {
	if s.t != nil {
		s.t.Helper()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueByName(s.account(account), queueName)
	if q == nil {
		s.fatalf("cftest: AddConsumer: no queue %q in account %s", queueName, account)
		return c
	}
	c.ID = s.id()
	c.QueueName = q.Name
	if c.CreatedOn == "" {
		c.CreatedOn = Timestamp
	}
	if c.Type == "" {
		c.Type = "worker"
	}
	q.Consumers = append(q.Consumers, c)
	return c
}

// PutScript creates or replaces a Worker script without uploading it: it
// makes no version or deployment (Deploy does).
func (s *Server) PutScript(account string, sc Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(account)
	cp := sc
	cp.Bindings = slices.Clone(sc.Bindings)
	if cp.Tag == "" {
		cp.Tag = s.id()
	}
	if cp.CreatedOn == "" {
		cp.CreatedOn, cp.ModifiedOn = Timestamp, Timestamp
	}
	if cp.UsageModel == "" {
		cp.UsageModel = "standard"
	}
	for i, old := range a.Scripts {
		if old.Name == sc.Name {
			a.Scripts[i] = &cp
			return
		}
	}
	a.Scripts = append(a.Scripts, &cp)
}

// Script returns a copy of the account's script of that name.
func (s *Server) Script(account, name string) (Script, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.Accounts[account]
	if a == nil {
		return Script{}, false
	}
	sc := s.script(a, name)
	if sc == nil {
		return Script{}, false
	}
	return cloneScript(sc), true
}

func cloneScript(sc *Script) Script {
	cp := *sc
	cp.CompatibilityFlags = slices.Clone(sc.CompatibilityFlags)
	cp.Bindings = make([]Binding, len(sc.Bindings))
	for i, b := range sc.Bindings {
		cp.Bindings[i] = b.clone()
	}
	if sc.Bindings == nil {
		cp.Bindings = nil
	}
	cp.Modules = slices.Clone(sc.Modules)
	cp.Metadata = bytes.Clone(sc.Metadata)
	cp.Limits, cp.Observability = bytes.Clone(sc.Limits), bytes.Clone(sc.Observability)
	cp.Placement, cp.TailConsumers = bytes.Clone(sc.Placement), bytes.Clone(sc.TailConsumers)
	cp.Annotations = maps.Clone(sc.Annotations)
	cp.Schedules = slices.Clone(sc.Schedules)
	cp.Handlers = slices.Clone(sc.Handlers)
	return cp
}

// SetSubdomain sets the account's workers.dev subdomain.
func (s *Server) SetSubdomain(account, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.account(account).Subdomain = name
}

// AddRoute adds a Workers route to a zone and returns it with its id.
func (s *Server) AddRoute(zone, pattern, script string) Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Route{ID: s.id(), Pattern: pattern, Script: script}
	z := s.zone(zone)
	z.Routes = append(z.Routes, r)
	return r
}

// AddCustomDomain attaches a custom domain to a Worker.
func (s *Server) AddCustomDomain(account string, d CustomDomain) CustomDomain {
	return addTo(s, account, func(a *Account) *[]CustomDomain { return &a.CustomDomains }, func() CustomDomain {
		d.ID = s.id()
		if d.Environment == "" {
			d.Environment = "production"
		}
		if d.CertID == "" {
			d.CertID = "00000000-0000-4000-8000-000000000000"
		}
		return d
	})
}

// AddD1Database creates a D1 database and returns it with its uuid.
func (s *Server) AddD1Database(account, name string) D1Database {
	return addTo(s, account, func(a *Account) *[]D1Database { return &a.D1Databases }, func() D1Database {
		return D1Database{UUID: s.uuid(), Name: name, CreatedAt: Timestamp, Version: "production"}
	})
}

// first is the first element of list that match accepts, or nil.
func first[T any](list []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(list, match); i >= 0 {
		return list[i]
	}
	return nil
}

func (s *Server) queueByName(a *Account, name string) *Queue {
	return first(a.Queues, func(q *Queue) bool { return q.Name == name })
}

func (s *Server) queueByID(a *Account, id string) *Queue {
	return first(a.Queues, func(q *Queue) bool { return q.ID == id })
}

func (s *Server) script(a *Account, name string) *Script {
	return first(a.Scripts, func(sc *Script) bool { return sc.Name == name })
}

// StateJSON is the server's state as indented JSON, for people: every
// account and zone, each script's version history, and the unknown
// requests. Secret texts are left out. GET /__fake/state answers it.
func (s *Server) StateJSON() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type scriptOut struct {
		Script
		Bindings    []Binding    `json:"Bindings"`
		Versions    []Version    `json:"Versions"`
		Deployments []Deployment `json:"Deployments"`
	}
	type accountOut struct {
		Account
		Scripts []scriptOut `json:"Scripts"`
	}
	out := struct {
		Accounts map[string]accountOut `json:"accounts"`
		Zones    map[string]*Zone      `json:"zones"`
		Unknown  []Request             `json:"unknown_requests"`
	}{Accounts: map[string]accountOut{}, Zones: s.state.Zones, Unknown: s.unknown}
	for id, a := range s.state.Accounts {
		ao := accountOut{Account: *a, Scripts: []scriptOut{}}
		for _, sc := range a.Scripts {
			so := scriptOut{Script: cloneScript(sc), Bindings: renderBindings(sc.Bindings)}
			so.Metadata = nil // it holds the secret texts
			h := s.histories[id+"/"+sc.Name]
			if h != nil {
				so.Versions, so.Deployments = h.versions, h.deployments
			}
			ao.Scripts = append(ao.Scripts, so)
		}
		out.Accounts[id] = ao
	}
	return json.MarshalIndent(out, "", "  ")
}
