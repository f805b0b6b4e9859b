package cftest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// The routes the fake serves, after /client/v4. ":account" must be a known
// account and ":zone" a known zone (else 403, as Cloudflare answers an
// account the token cannot reach); every other ":name" is a path parameter.
// Anything else is unknown: 400 with code 7000, recorded (see Unknown).
var routeTable = []struct {
	spec string
	h    handler
}{
	{"GET /accounts/:account/storage/kv/namespaces", kvList},
	{"POST /accounts/:account/storage/kv/namespaces", kvCreate},
	{"GET /accounts/:account/storage/kv/namespaces/:id", kvGet},
	{"PUT /accounts/:account/storage/kv/namespaces/:id", kvUpdate},
	{"DELETE /accounts/:account/storage/kv/namespaces/:id", kvDelete},
	{"GET /accounts/:account/storage/kv/namespaces/:id/keys", kvKeyList},
	{"PUT /accounts/:account/storage/kv/namespaces/:id/values/:key", kvValuePut},
	{"GET /accounts/:account/storage/kv/namespaces/:id/values/:key", kvValueGet},
	{"DELETE /accounts/:account/storage/kv/namespaces/:id/values/:key", kvValueDelete},
	{"GET /accounts/:account/storage/kv/namespaces/:id/metadata/:key", kvMetadataGet},

	{"GET /accounts/:account/r2/buckets", r2List},
	{"POST /accounts/:account/r2/buckets", r2Create},
	{"GET /accounts/:account/r2/buckets/:name", r2Get},
	{"PATCH /accounts/:account/r2/buckets/:name", r2Patch},
	{"DELETE /accounts/:account/r2/buckets/:name", r2Delete},
	{"GET /accounts/:account/r2/buckets/:name/lifecycle", lifecycleGet},
	{"PUT /accounts/:account/r2/buckets/:name/lifecycle", lifecyclePut},

	{"GET /accounts/:account/queues", queueList},
	{"POST /accounts/:account/queues", queueCreate},
	{"GET /accounts/:account/queues/:queue", queueGet},
	{"PUT /accounts/:account/queues/:queue", queueUpdate},
	{"DELETE /accounts/:account/queues/:queue", queueDelete},
	{"GET /accounts/:account/queues/:queue/consumers", consumerList},
	{"POST /accounts/:account/queues/:queue/consumers", consumerCreate},
	{"GET /accounts/:account/queues/:queue/consumers/:consumer", consumerGet},
	{"PUT /accounts/:account/queues/:queue/consumers/:consumer", consumerUpdate},
	{"DELETE /accounts/:account/queues/:queue/consumers/:consumer", consumerDelete},

	{"GET /accounts/:account/workers/scripts", scriptList},
	{"PUT /accounts/:account/workers/scripts/:script", scriptUpload},
	{"GET /accounts/:account/workers/scripts/:script", scriptDownload},
	{"DELETE /accounts/:account/workers/scripts/:script", scriptDelete},
	{"GET /accounts/:account/workers/scripts/:script/content/v2", scriptContent},
	{"GET /accounts/:account/workers/scripts/:script/settings", scriptSettings},
	{"GET /accounts/:account/workers/scripts/:script/script-settings", scriptScriptSettings},
	{"GET /accounts/:account/workers/scripts/:script/subdomain", subdomainGet},
	{"POST /accounts/:account/workers/scripts/:script/subdomain", subdomainPost},
	{"DELETE /accounts/:account/workers/scripts/:script/subdomain", subdomainDelete},
	{"GET /accounts/:account/workers/scripts/:script/schedules", schedulesGet},
	{"PUT /accounts/:account/workers/scripts/:script/schedules", schedulesPut},
	{"GET /accounts/:account/workers/scripts/:script/versions", versionList},
	{"GET /accounts/:account/workers/scripts/:script/deployments", deploymentList},
	{"POST /accounts/:account/workers/scripts/:script/deployments", deploymentCreate},
	{"GET /accounts/:account/workers/services/:script", serviceGet},
	{"GET /accounts/:account/workers/subdomain", accountSubdomain},

	{"GET /accounts/:account/workers/domains", domainList},
	{"PUT /accounts/:account/workers/domains", domainAttach},
	{"GET /accounts/:account/workers/domains/:id", domainGet},
	{"DELETE /accounts/:account/workers/domains/:id", domainDetach},

	{"GET /zones/:zone/workers/routes", routeList},
	{"POST /zones/:zone/workers/routes", routeCreate},
	{"GET /zones/:zone/workers/routes/:id", routeGet},
	{"PUT /zones/:zone/workers/routes/:id", routeUpdate},
	{"DELETE /zones/:zone/workers/routes/:id", routeDelete},

	{"GET /accounts/:account/d1/database", d1List},
	{"POST /accounts/:account/d1/database", d1Create},
	{"GET /accounts/:account/d1/database/:db", d1Get},
	{"PUT /accounts/:account/d1/database/:db", d1Update},
	{"DELETE /accounts/:account/d1/database/:db", d1Delete},
	{"POST /accounts/:account/d1/database/:db/query", d1Query},

	{"PUT /accounts/:account/workflows/:workflow", workflowPut},
	{"GET /accounts/:account/workflows/:workflow", workflowGet},
	{"DELETE /accounts/:account/workflows/:workflow", workflowDelete},
}

// Routes lists the method and path pattern of every request the fake serves.
func Routes() []string {
	out := make([]string, len(routeTable))
	for i, r := range routeTable {
		out[i] = r.spec
	}
	return out
}

type handler func(c *call) reply

// call is one request being answered; s.mu is held.
type call struct {
	s       *Server
	r       *http.Request
	p       map[string]string
	a       *Account
	z       *Zone
	account string
	zone    string
}

type route struct {
	method string
	segs   []string
	h      handler
}

var routes = func() []route {
	out := make([]route, len(routeTable))
	for i, r := range routeTable {
		method, path, _ := strings.Cut(r.spec, " ")
		out[i] = route{method, strings.Split(strings.Trim(path, "/"), "/"), r.h}
	}
	return out
}()

// matchRoute finds the route of a method and escaped path (after
// /client/v4): segments are split before they are percent-decoded, so a
// KV key name holding %2F is one segment.
func matchRoute(method, path string) (*route, map[string]string) {
	if !strings.HasPrefix(path, "/") {
		return nil, nil
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		p := map[string]string{}
		ok := true
		for j, want := range rt.segs {
			switch {
			case strings.HasPrefix(want, ":") && segs[j] != "":
				v, err := url.PathUnescape(segs[j])
				p[want[1:]], ok = v, err == nil
			case want != segs[j]:
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return rt, p
		}
	}
	return nil, nil
}

// ---- replies ----

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
	// noRetry adds x-should-retry: false (the fake's own failures).
	noRetry bool
	// raw, when set, is the body as is (script content), with header.
	raw    []byte
	header http.Header
}

func ok(result any) reply {
	return reply{status: http.StatusOK, env: envelope{Success: true, Result: result}}
}

func fail(status int, errs ...Message) reply {
	return reply{status: status, env: envelope{Success: false, Errors: errs}, noRetry: true}
}

func notFound(code int, msg string) reply { return fail(http.StatusNotFound, Message{code, msg}) }

func badRequest(code int, msg string) reply {
	return fail(http.StatusBadRequest, Message{code, msg})
}

func invalidBody(msg string) reply { return badRequest(ErrBadRequest.Code, msg) }

// ---- serving ----

// ServeHTTP answers one request: the fake API under /client/v4, and GET
// /__fake/state (not a Cloudflare path) with StateJSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__fake/state" && r.Method == http.MethodGet {
		b, err := s.StateJSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		return
	}
	rep, req, unknown := s.handle(r)
	s.write(w, rep)
	if s.logf != nil {
		if unknown {
			s.logf("UNKNOWN %s %s -> %d: the fake has no route for it (answered 400, code 7000)", req.Method, req.Path, rep.status)
		} else {
			s.logf("%s %s -> %d", req.Method, req.Path, rep.status)
		}
	}
}

func (s *Server) write(w http.ResponseWriter, rep reply) {
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if rep.noRetry {
		w.Header().Set("x-should-retry", "false")
	}
	if rep.raw != nil || rep.status == http.StatusNoContent {
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.raw)
		return
	}
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

func (s *Server) handle(r *http.Request) (rep reply, req Request, unknown bool) {
	// Read the body before taking the lock: a slow upload holds up no one.
	b, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
	if err != nil {
		b = nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	s.mu.Lock()
	defer s.mu.Unlock()
	path, found := strings.CutPrefix(r.URL.Path, "/client/v4")
	escaped, _ := strings.CutPrefix(r.URL.EscapedPath(), "/client/v4")
	req = Request{Method: r.Method, Path: path, Query: r.URL.Query()}
	defer func() {
		req.Status = rep.status
		s.requests = append(s.requests, req)
		if unknown {
			s.unknown = append(s.unknown, req)
		}
	}()
	var rt *route
	var params map[string]string
	if found {
		rt, params = matchRoute(r.Method, escaped)
	}
	if rt == nil {
		return fail(http.StatusBadRequest, ErrNoRoute), req, true
	}
	if rep, ok := s.admit(r, path); !ok {
		return rep, req, false
	}
	c := &call{s: s, r: r, p: params}
	if id, ok := params["account"]; ok {
		c.account, c.a = id, s.state.Accounts[id]
		if c.a == nil {
			return fail(http.StatusForbidden, ErrAuthentication), req, false
		}
	}
	if id, ok := params["zone"]; ok {
		c.zone, c.z = id, s.state.Zones[id]
		if c.z == nil {
			return fail(http.StatusForbidden, ErrAuthentication), req, false
		}
	}
	return rt.h(c), req, false
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
		// An injected fault is answered as the test asked: retryable
		// statuses stay retryable.
		return reply{status: f.Status, env: envelope{Success: false, Errors: f.Errors}}, false
	}
	return reply{}, true
}

// ---- helpers ----

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

// decode reads a JSON body into v.
func decode(r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return err == nil && json.Unmarshal(b, v) == nil
}

// fields reads a JSON object body twice: into v and as its set of keys.
func fields(r *http.Request, v any) (map[string]json.RawMessage, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil || json.Unmarshal(b, v) != nil {
		return nil, false
	}
	return m, true
}

// present reports whether a JSON object had key with a non-null value.
func present(m map[string]json.RawMessage, key string) bool {
	v, ok := m[key]
	return ok && string(v) != "null"
}
