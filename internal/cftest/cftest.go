// Package cftest is a fake Cloudflare API v4 server for tests. It keeps its
// state in memory, answers on 127.0.0.1 in the JSON shapes Cloudflare
// documents, and is driven from Go: tests seed accounts, KV namespaces, R2
// buckets, queues and consumers, Worker scripts, routes and custom domains,
// point cloudflare-go at BaseURL, and inject faults.
//
// # Envelope
//
// Every answer is the v4 envelope:
//
//	{"success": true, "errors": [], "messages": [], "result": ..., "result_info": {...}}
//
// result_info is present on paginated lists only. A failure is
//
//	{"success": false, "errors": [{"code": 10000, "message": "Authentication error"}], "messages": [], "result": null}
//
// with the HTTP status Cloudflare uses (400, 403, 404, 405, 409).
//
// # Pagination
//
// KV namespaces, queues and queue consumers are paged by number: ?page= (from 1)
// and ?per_page= (default DefaultPerPage, at most the server's MaxPerPage).
// result_info is {page, per_page, count, total_count, total_pages}, and a page
// past the end is an empty result, which is what ends cloudflare-go's
// auto-pager. R2 buckets are paged by cursor: result is {"buckets": [...]},
// result_info is {cursor, per_page}, and the last page has an empty cursor.
// Scripts, routes and custom domains are single pages.
//
// # Shapes newer than the 2024 schema
//
// Where Cloudflare's current API (and cloudflare-go v7, generated from it)
// differs from the 2024 OpenAPI subset in testdata/cloudflare-api, the fake
// answers the current shape: the R2 list's result is {"buckets": [...]}; a
// queue's consumers and producers are arrays; a consumer names its Worker in
// script_name and has a type; GET .../settings lists plain_text, secret_text,
// ratelimit and analytics_engine bindings; the account subdomain is
// {"subdomain": ...}.
//
// # Errors
//
// A request without "Authorization: Bearer ..." is 400 with code 9106; a
// token other than the server's (see WithToken) is 403 with code 10000
// "Authentication error", as is an account or zone the server does not know.
// A missing object is 404 with the code of its API (KV 10013, R2 10006, queues
// 11000, scripts 10007, routes 10020); an unknown path is 404 with code 7003
// "No route for the URI"; a known path with a method the fake does not serve is
// 405 with code 10405. AddFault makes any request fail with a chosen status
// and errors.
package cftest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	ErrNoRoute        = Message{7003, "No route for the URI"}
	ErrMethod         = Message{10405, "Method not allowed"}
	ErrBadRequest     = Message{10001, "Invalid request body"}
)

// KVNamespace is a Workers KV namespace.
type KVNamespace struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

// Bucket is an R2 bucket.
type Bucket struct {
	Name         string `json:"name"`
	CreationDate string `json:"creation_date"`
	Location     string `json:"location,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
}

// Queue is a queue; its consumers are listed under it.
type Queue struct {
	ID         string
	Name       string
	CreatedOn  string
	ModifiedOn string
	Consumers  []Consumer
}

// Consumer is a queue consumer, in the newer API shape (script_name and type,
// not the 2024 schema's service and environment).
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
// RetryDelay seconds. A nil MaxConcurrency is JSON null (the platform's maximum).
type ConsumerSettings struct {
	BatchSize      int  `json:"batch_size"`
	MaxConcurrency *int `json:"max_concurrency"`
	MaxRetries     int  `json:"max_retries"`
	MaxWaitTimeMs  int  `json:"max_wait_time_ms"`
	RetryDelay     int  `json:"retry_delay"`
}

// Binding is one binding of a Worker, as GET .../settings lists it. Only the
// fields of its type are rendered; a secret_text binding never shows its Text.
type Binding struct {
	Type        string           `json:"type"`
	Name        string           `json:"name"`
	NamespaceID string           `json:"namespace_id,omitempty"`
	BucketName  string           `json:"bucket_name,omitempty"`
	QueueName   string           `json:"queue_name,omitempty"`
	Text        string           `json:"text,omitempty"`
	Dataset     string           `json:"dataset,omitempty"`
	Simple      *RateLimitSimple `json:"simple,omitempty"`
}

// RateLimitSimple is a ratelimit binding's configuration.
type RateLimitSimple struct {
	Limit  int `json:"limit"`
	Period int `json:"period"`
}

// Script is a Worker script.
type Script struct {
	Name               string
	CompatibilityDate  string
	CompatibilityFlags []string
	Bindings           []Binding
	// WorkersDev is whether the script answers on the account's workers.dev
	// subdomain (GET .../subdomain "enabled").
	WorkersDev      bool
	PreviewsEnabled bool
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

// Account is one account's resources.
type Account struct {
	KVNamespaces  []KVNamespace
	Buckets       []Bucket
	Queues        []*Queue
	Scripts       []*Script
	CustomDomains []CustomDomain
	// Subdomain is the account's workers.dev subdomain; "" answers 404.
	Subdomain string
}

// Zone is one zone's Workers routes.
type Zone struct {
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
	// Path is the path after /client/v4.
	Path  string
	Query url.Values
}

// Server is the fake API. Its methods are safe for concurrent use.
type Server struct {
	// URL is the server's root, http://127.0.0.1:port.
	URL string

	srv        *httptest.Server
	t          testing.TB
	token      string
	maxPerPage int

	// extend, when set, answers the requests it handles before the
	// built-in routes (after auth and faults). s.mu is held.
	extend func(r *http.Request, path string) (reply, bool)

	mu       sync.Mutex
	state    State
	faults   []*Fault
	requests []Request
	nextID   int
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server accept only this API token (default: any token).
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithMaxPerPage caps per_page (default DefaultMaxPer); a small cap makes
// short lists span several pages.
func WithMaxPerPage(n int) Option { return func(s *Server) { s.maxPerPage = n } }

// New starts a server and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, maxPerPage: DefaultMaxPer, state: State{Accounts: map[string]*Account{}, Zones: map[string]*Zone{}}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// BaseURL is what cloudflare-go's option.WithBaseURL takes.
func (s *Server) BaseURL() string { return s.URL + "/client/v4/" }

// Close stops the server (New also stops it when the test ends).
func (s *Server) Close() { s.srv.Close() }

// Update runs fn with the server's state locked, creating nothing: use
// AddAccount and AddZone first.
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

// Requests lists the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) id() string {
	s.nextID++
	return fmt.Sprintf("%032x", 0xcf000000+s.nextID)
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

func (s *Server) account(id string) *Account {
	a := s.state.Accounts[id]
	if a == nil {
		a = &Account{}
		s.state.Accounts[id] = a
	}
	return a
}

func (s *Server) zone(id string) *Zone {
	z := s.state.Zones[id]
	if z == nil {
		z = &Zone{}
		s.state.Zones[id] = z
	}
	return z
}

// AddKVNamespace creates a namespace and returns it with its new id.
func (s *Server) AddKVNamespace(account, title string) KVNamespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := KVNamespace{ID: s.id(), Title: title, SupportsURLEncoding: true}
	a := s.account(account)
	a.KVNamespaces = append(a.KVNamespaces, ns)
	return ns
}

// AddBucket creates an R2 bucket.
func (s *Server) AddBucket(account, name string) Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Bucket{Name: name, CreationDate: Timestamp, Location: "enam", StorageClass: "Standard"}
	a := s.account(account)
	a.Buckets = append(a.Buckets, b)
	return b
}

// AddQueue creates a queue and returns its id.
func (s *Server) AddQueue(account, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &Queue{ID: s.id(), Name: name, CreatedOn: Timestamp, ModifiedOn: Timestamp}
	a := s.account(account)
	a.Queues = append(a.Queues, q)
	return q.ID
}

// AddConsumer adds a consumer to the named queue; Type defaults to "worker".
// It returns the consumer with its id. The queue must exist.
func (s *Server) AddConsumer(account, queueName string, c Consumer) Consumer {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queueByName(s.account(account), queueName)
	if q == nil {
		s.t.Fatalf("cftest: AddConsumer: no queue %q in account %s", queueName, account)
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

// PutScript creates or replaces a Worker script.
func (s *Server) PutScript(account string, sc Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(account)
	cp := sc
	cp.Bindings = slices.Clone(sc.Bindings)
	for i, old := range a.Scripts {
		if old.Name == sc.Name {
			a.Scripts[i] = &cp
			return
		}
	}
	a.Scripts = append(a.Scripts, &cp)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	d.ID = s.id()
	if d.Environment == "" {
		d.Environment = "production"
	}
	if d.CertID == "" {
		d.CertID = "00000000-0000-4000-8000-000000000000"
	}
	a := s.account(account)
	a.CustomDomains = append(a.CustomDomains, d)
	return d
}

func (s *Server) queueByName(a *Account, name string) *Queue {
	for _, q := range a.Queues {
		if q.Name == name {
			return q
		}
	}
	return nil
}

func (s *Server) queueByID(a *Account, id string) *Queue {
	for _, q := range a.Queues {
		if q.ID == id {
			return q
		}
	}
	return nil
}

func (s *Server) script(a *Account, name string) *Script {
	for _, sc := range a.Scripts {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// ---- HTTP ----

type envelope struct {
	Success    bool      `json:"success"`
	Errors     []Message `json:"errors"`
	Messages   []Message `json:"messages"`
	Result     any       `json:"result"`
	ResultInfo any       `json:"result_info,omitempty"`
}

type pageInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

type cursorInfo struct {
	Cursor  string `json:"cursor"`
	PerPage int    `json:"per_page"`
}

type reply struct {
	status int
	env    envelope
}

func ok(result any) reply { return reply{http.StatusOK, envelope{Success: true, Result: result}} }

func fail(status int, errs ...Message) reply {
	return reply{status, envelope{Success: false, Errors: errs}}
}

func notFound(code int, msg string) reply { return fail(http.StatusNotFound, Message{code, msg}) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rep := s.handle(r)
	if rep.env.Errors == nil {
		rep.env.Errors = []Message{}
	}
	if rep.env.Messages == nil {
		rep.env.Messages = []Message{}
	}
	b, err := json.Marshal(rep.env)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

func (s *Server) handle(r *http.Request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, found := strings.CutPrefix(r.URL.Path, "/client/v4")
	s.requests = append(s.requests, Request{Method: r.Method, Path: path, Query: r.URL.Query()})
	if !found {
		return fail(http.StatusNotFound, ErrNoRoute)
	}
	if rep, ok := s.admit(r, path); !ok {
		return rep
	}
	if s.extend != nil {
		if rep, handled := s.extend(r, path); handled {
			return rep
		}
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(seg) >= 3 && seg[0] == "accounts":
		a := s.state.Accounts[seg[1]]
		if a == nil {
			return fail(http.StatusForbidden, ErrAuthentication)
		}
		return s.accountRoute(r, a, seg[2:])
	case len(seg) >= 4 && seg[0] == "zones" && seg[2] == "workers" && seg[3] == "routes":
		z := s.state.Zones[seg[1]]
		if z == nil {
			return fail(http.StatusForbidden, ErrAuthentication)
		}
		return s.routes(r, z, seg[4:])
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}

// admit applies the token check and the injected faults to a request; it
// returns false with the failure to answer. s.mu must be held.
func (s *Server) admit(r *http.Request, path string) (reply, bool) {
	auth := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(auth, "Bearer ")
	switch {
	case auth == "" || !isBearer || tok == "":
		return fail(http.StatusBadRequest, ErrMissingAuth), false
	case s.token != "" && tok != s.token:
		return fail(http.StatusForbidden, ErrAuthentication), false
	}
	for _, f := range s.faults {
		if f.Times < 0 || (f.Method != "" && f.Method != r.Method) || !strings.HasPrefix(path, f.Path) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Times = -1 // spent
			}
		}
		return fail(f.Status, f.Errors...), false
	}
	return reply{}, true
}

func (s *Server) accountRoute(r *http.Request, a *Account, seg []string) reply {
	switch {
	case len(seg) >= 3 && seg[0] == "storage" && seg[1] == "kv" && seg[2] == "namespaces":
		return s.kv(r, a, seg[3:])
	case len(seg) >= 2 && seg[0] == "r2" && seg[1] == "buckets":
		return s.r2(r, a, seg[2:])
	case len(seg) >= 1 && seg[0] == "queues":
		return s.queues(r, a, seg[1:])
	case len(seg) >= 2 && seg[0] == "workers" && seg[1] == "scripts":
		return s.scripts(r, a, seg[2:])
	case len(seg) == 2 && seg[0] == "workers" && seg[1] == "subdomain":
		if r.Method != http.MethodGet {
			return fail(http.StatusMethodNotAllowed, ErrMethod)
		}
		if a.Subdomain == "" {
			return notFound(10007, "This subdomain does not exist.")
		}
		return ok(map[string]string{"subdomain": a.Subdomain})
	case len(seg) == 2 && seg[0] == "workers" && seg[1] == "domains":
		if r.Method != http.MethodGet {
			return fail(http.StatusMethodNotAllowed, ErrMethod)
		}
		q := r.URL.Query()
		out := []CustomDomain{}
		for _, d := range a.CustomDomains {
			if match(q, "hostname", d.Hostname) && match(q, "service", d.Service) && match(q, "zone_id", d.ZoneID) && match(q, "zone_name", d.ZoneName) && match(q, "environment", d.Environment) {
				out = append(out, d)
			}
		}
		return ok(out)
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}

func match(q url.Values, key, value string) bool {
	want := q.Get(key)
	return want == "" || want == value
}

// paged answers one page of a number-paged list.
func paged[T any](s *Server, r *http.Request, items []T) reply {
	q := r.URL.Query()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = DefaultPerPage
	}
	per = min(per, s.maxPerPage)
	total := len(items)
	start := min((page-1)*per, total)
	end := min(start+per, total)
	out := slices.Clone(items[start:end])
	if out == nil {
		out = []T{}
	}
	rep := ok(out)
	rep.env.ResultInfo = pageInfo{Page: page, PerPage: per, Count: len(out), TotalCount: total, TotalPages: (total + per - 1) / per}
	return rep
}

func decode(r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return err == nil && json.Unmarshal(b, v) == nil
}

func (s *Server) kv(r *http.Request, a *Account, seg []string) reply {
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		return paged(s, r, a.KVNamespaces)
	case len(seg) == 0 && r.Method == http.MethodPost:
		var body struct {
			Title string `json:"title"`
		}
		if !decode(r, &body) || body.Title == "" {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		for _, ns := range a.KVNamespaces {
			if ns.Title == body.Title {
				return fail(http.StatusBadRequest, Message{10014, "a namespace with this account ID and title already exists"})
			}
		}
		ns := KVNamespace{ID: s.id(), Title: body.Title, SupportsURLEncoding: true}
		a.KVNamespaces = append(a.KVNamespaces, ns)
		return ok(ns)
	case len(seg) == 1:
		i := slices.IndexFunc(a.KVNamespaces, func(ns KVNamespace) bool { return ns.ID == seg[0] })
		if i < 0 {
			return notFound(10013, "get namespace: 'namespace not found'")
		}
		switch r.Method {
		case http.MethodGet:
			return ok(a.KVNamespaces[i])
		case http.MethodDelete:
			a.KVNamespaces = slices.Delete(a.KVNamespaces, i, i+1)
			return ok(map[string]any{})
		}
	case len(seg) > 1:
		return fail(http.StatusNotFound, ErrNoRoute)
	}
	return fail(http.StatusMethodNotAllowed, ErrMethod)
}

func (s *Server) r2(r *http.Request, a *Account, seg []string) reply {
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		q := r.URL.Query()
		names := slices.Clone(a.Buckets)
		sort.Slice(names, func(i, j int) bool { return names[i].Name < names[j].Name })
		after := q.Get("start_after")
		if c := q.Get("cursor"); c != "" {
			b, err := base64.RawURLEncoding.DecodeString(c)
			if err != nil {
				return fail(http.StatusBadRequest, Message{10029, "The provided cursor is invalid."})
			}
			after = string(b)
		}
		per, err := strconv.Atoi(q.Get("per_page"))
		if err != nil || per < 1 {
			per = DefaultPerPage
		}
		per = min(per, s.maxPerPage)
		out := []Bucket{}
		rest := false
		for _, b := range names {
			if b.Name <= after || !strings.Contains(b.Name, q.Get("name_contains")) {
				continue
			}
			if len(out) == per {
				rest = true
				break
			}
			out = append(out, b)
		}
		info := cursorInfo{PerPage: per}
		if rest {
			info.Cursor = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].Name))
		}
		rep := ok(map[string]any{"buckets": out})
		rep.env.ResultInfo = info
		return rep
	case len(seg) == 0 && r.Method == http.MethodPost:
		var body struct {
			Name         string `json:"name"`
			LocationHint string `json:"locationHint"`
			StorageClass string `json:"storageClass"`
		}
		if !decode(r, &body) || body.Name == "" {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		for _, b := range a.Buckets {
			if b.Name == body.Name {
				return fail(http.StatusConflict, Message{10004, "The bucket you tried to create already exists, and you own it."})
			}
		}
		b := Bucket{Name: body.Name, CreationDate: Timestamp, Location: strings.ToLower(body.LocationHint), StorageClass: "Standard"}
		if body.StorageClass != "" {
			b.StorageClass = body.StorageClass
		}
		a.Buckets = append(a.Buckets, b)
		return ok(b)
	case len(seg) == 1:
		i := slices.IndexFunc(a.Buckets, func(b Bucket) bool { return b.Name == seg[0] })
		if i < 0 {
			return notFound(10006, "The specified bucket does not exist.")
		}
		switch r.Method {
		case http.MethodGet:
			return ok(a.Buckets[i])
		case http.MethodDelete:
			a.Buckets = slices.Delete(a.Buckets, i, i+1)
			return ok(map[string]any{})
		}
	case len(seg) > 1:
		return fail(http.StatusNotFound, ErrNoRoute)
	}
	return fail(http.StatusMethodNotAllowed, ErrMethod)
}

type queueJSON struct {
	QueueID             string     `json:"queue_id"`
	QueueName           string     `json:"queue_name"`
	CreatedOn           string     `json:"created_on"`
	ModifiedOn          string     `json:"modified_on"`
	Consumers           []Consumer `json:"consumers"`
	ConsumersTotalCount int        `json:"consumers_total_count"`
	Producers           []any      `json:"producers"`
	ProducersTotalCount int        `json:"producers_total_count"`
}

func (q *Queue) json() queueJSON {
	cs := slices.Clone(q.Consumers)
	if cs == nil {
		cs = []Consumer{}
	}
	return queueJSON{QueueID: q.ID, QueueName: q.Name, CreatedOn: q.CreatedOn, ModifiedOn: q.ModifiedOn,
		Consumers: cs, ConsumersTotalCount: len(cs), Producers: []any{}}
}

func (s *Server) queues(r *http.Request, a *Account, seg []string) reply {
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		all := make([]queueJSON, len(a.Queues))
		for i, q := range a.Queues {
			all[i] = q.json()
		}
		return paged(s, r, all)
	case len(seg) == 0 && r.Method == http.MethodPost:
		var body struct {
			QueueName string `json:"queue_name"`
		}
		if !decode(r, &body) || body.QueueName == "" {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		if s.queueByName(a, body.QueueName) != nil {
			return fail(http.StatusConflict, Message{11009, "A queue with this name already exists"})
		}
		q := &Queue{ID: s.id(), Name: body.QueueName, CreatedOn: Timestamp, ModifiedOn: Timestamp}
		a.Queues = append(a.Queues, q)
		return ok(q.json())
	}
	q := s.queueByID(a, seg[0])
	if q == nil {
		return notFound(11000, "Queue does not exist")
	}
	switch {
	case len(seg) == 1 && r.Method == http.MethodGet:
		return ok(q.json())
	case len(seg) == 1 && r.Method == http.MethodDelete:
		a.Queues = slices.DeleteFunc(a.Queues, func(x *Queue) bool { return x == q })
		return ok(map[string]any{})
	case len(seg) == 2 && seg[1] == "consumers" && r.Method == http.MethodGet:
		return paged(s, r, q.Consumers)
	case len(seg) == 2 && seg[1] == "consumers" && r.Method == http.MethodPost:
		var c Consumer
		if !decode(r, &c) {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		if c.Type == "" {
			c.Type = "worker"
		}
		for _, old := range q.Consumers {
			if old.Type == "worker" && c.Type == "worker" {
				return fail(http.StatusConflict, Message{11004, "consumer_exists"})
			}
		}
		c.ID, c.QueueName, c.CreatedOn = s.id(), q.Name, Timestamp
		q.Consumers = append(q.Consumers, c)
		return ok(c)
	case len(seg) == 3 && seg[1] == "consumers":
		i := slices.IndexFunc(q.Consumers, func(c Consumer) bool { return c.ID == seg[2] })
		if i < 0 {
			return notFound(11001, "Consumer does not exist")
		}
		switch r.Method {
		case http.MethodGet:
			return ok(q.Consumers[i])
		case http.MethodDelete:
			q.Consumers = slices.Delete(q.Consumers, i, i+1)
			return ok(map[string]any{})
		}
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	case len(seg) <= 3:
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}

func renderBindings(bs []Binding) []Binding {
	out := make([]Binding, len(bs))
	for i, b := range bs {
		if b.Type == "secret_text" {
			b.Text = ""
		}
		out[i] = b
	}
	return out
}

func (s *Server) scripts(r *http.Request, a *Account, seg []string) reply {
	if len(seg) == 0 {
		if r.Method != http.MethodGet {
			return fail(http.StatusMethodNotAllowed, ErrMethod)
		}
		out := []map[string]any{}
		for _, sc := range a.Scripts {
			out = append(out, map[string]any{
				"id": sc.Name, "created_on": Timestamp, "modified_on": Timestamp, "etag": fmt.Sprintf("%x", len(sc.Name)),
				"compatibility_date": sc.CompatibilityDate, "has_modules": true, "usage_model": "standard",
				"handlers": []string{"fetch", "queue", "scheduled"},
			})
		}
		return ok(out)
	}
	sc := s.script(a, seg[0])
	if sc == nil {
		return notFound(10007, "This Worker does not exist on your account.")
	}
	if len(seg) == 1 {
		switch r.Method {
		case http.MethodDelete:
			a.Scripts = slices.DeleteFunc(a.Scripts, func(x *Script) bool { return x == sc })
			return ok(map[string]any{})
		case http.MethodGet:
			// The real endpoint answers the script's content (multipart); the
			// fake answers the envelope with the script's name.
			return ok(map[string]any{"id": sc.Name})
		}
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	}
	if len(seg) != 2 {
		return fail(http.StatusNotFound, ErrNoRoute)
	}
	if r.Method != http.MethodGet {
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	}
	flags := sc.CompatibilityFlags
	if flags == nil {
		flags = []string{}
	}
	switch seg[1] {
	case "settings":
		return ok(map[string]any{
			"bindings": renderBindings(sc.Bindings), "compatibility_date": sc.CompatibilityDate,
			"compatibility_flags": flags, "logpush": false,
			"tail_consumers": []any{}, "usage_model": "standard", "tags": []string{},
		})
	case "script-settings":
		return ok(map[string]any{"logpush": false, "tail_consumers": []any{}, "observability": map[string]any{"enabled": false}})
	case "subdomain":
		return ok(map[string]bool{"enabled": sc.WorkersDev, "previews_enabled": sc.PreviewsEnabled})
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}

func (s *Server) routes(r *http.Request, z *Zone, seg []string) reply {
	switch {
	case len(seg) == 0 && r.Method == http.MethodGet:
		out := slices.Clone(z.Routes)
		if out == nil {
			out = []Route{}
		}
		return ok(out)
	case len(seg) == 0 && r.Method == http.MethodPost:
		var body struct {
			Pattern string `json:"pattern"`
			Script  string `json:"script"`
		}
		if !decode(r, &body) || body.Pattern == "" {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		for _, old := range z.Routes {
			if old.Pattern == body.Pattern {
				return fail(http.StatusConflict, Message{10020, "A route with the same pattern already exists"})
			}
		}
		rt := Route{ID: s.id(), Pattern: body.Pattern, Script: body.Script}
		z.Routes = append(z.Routes, rt)
		return ok(rt)
	case len(seg) == 1:
		i := slices.IndexFunc(z.Routes, func(rt Route) bool { return rt.ID == seg[0] })
		if i < 0 {
			return notFound(10020, "Route not found")
		}
		switch r.Method {
		case http.MethodGet:
			return ok(z.Routes[i])
		case http.MethodDelete:
			id := z.Routes[i].ID
			z.Routes = slices.Delete(z.Routes, i, i+1)
			return ok(map[string]string{"id": id})
		}
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	case len(seg) == 0:
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}
