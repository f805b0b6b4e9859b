package cftest

// Workers versions and deployments: the API `zerocost deploy` reads before
// `pulumi up` and writes to roll a Worker back.
//
// VersionsServer is a Server that also answers
//
//	GET  /accounts/{account}/workers/scripts/{script}/versions      (paged by number)
//	GET  /accounts/{account}/workers/scripts/{script}/deployments
//	POST /accounts/{account}/workers/scripts/{script}/deployments
//
// in the shapes of Cloudflare's schema (testdata/cloudflare-api): the version
// list is {"items": [...]} with result_info {page, per_page, count,
// total_count, total_pages}, a page past the end being empty; the deployment
// list is {"deployments": [...]}, newest (the one serving traffic) first; a
// new deployment is {"strategy": "percentage", "versions": [{"version_id",
// "percentage"}], "annotations": {"workers/message"}} with one or two versions
// whose percentages add up to 100, each a version of that script (else 400
// with code 10001). Every other path goes to the embedded Server, so auth,
// faults (AddFault) and the request log (Requests) cover both.
//
// A script must exist (PutScript, or Deploy, which creates it) or these paths
// answer 404 with code 10007, as the real API does for a Worker that does not
// exist. Deploy is what an upload does (`pulumi up`, `wrangler deploy`): a new
// version deployed to 100%.
//
// It is a second httptest server in front of the Server's handler because
// Server.handle has no extension point. Merged into cftest.go, these paths
// would be routed from Server.scripts, and admitVersionsRequest (a copy of
// handle's request log, auth and fault checks) would go.

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// DeploymentVersion is one version of a deployment and its share of traffic.
type DeploymentVersion struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

// Deployment is a Worker deployment: which versions serve traffic.
type Deployment struct {
	ID          string              `json:"id"`
	CreatedOn   string              `json:"created_on"`
	Source      string              `json:"source"`
	Strategy    string              `json:"strategy"`
	Versions    []DeploymentVersion `json:"versions"`
	Annotations map[string]string   `json:"annotations,omitempty"`
	AuthorEmail string              `json:"author_email"`
}

// Version is a Worker version (the short form the list answers).
type Version struct {
	ID       string          `json:"id"`
	Number   int             `json:"number"`
	Metadata VersionMetadata `json:"metadata"`
}

// VersionMetadata is a version's metadata.
type VersionMetadata struct {
	AuthorEmail string `json:"author_email"`
	AuthorID    string `json:"author_id"`
	CreatedOn   string `json:"created_on"`
	ModifiedOn  string `json:"modified_on"`
	Source      string `json:"source"`
}

// AuthorEmail is the author of every version and deployment the fake makes.
const AuthorEmail = "ci@example.com"

type scriptHistory struct {
	versions    []Version    // oldest first
	deployments []Deployment // newest first
}

// VersionsServer is a Server that also serves Workers versions and
// deployments, on top of the embedded Server (same URL, state, faults and
// request log).
type VersionsServer struct {
	*Server
	histories map[string]*scriptHistory // "account/script"; guarded by Server.mu
}

// NewVersions starts a server and stops it when the test ends.
func NewVersions(t testing.TB, opts ...Option) *VersionsServer {
	t.Helper()
	s := &VersionsServer{Server: New(t, opts...), histories: map[string]*scriptHistory{}}
	s.Server.extend = func(r *http.Request, path string) (reply, bool) {
		account, script, rest, ok := splitVersionsPath(path)
		if !ok {
			return reply{}, false
		}
		return s.handleVersions(r, account, script, rest), true
	}
	return s
}

func (s *VersionsServer) scriptHistoryOf(account, script string) *scriptHistory {
	key := account + "/" + script
	h := s.histories[key]
	if h == nil {
		h = &scriptHistory{}
		s.histories[key] = h
	}
	return h
}

func (s *Server) versionUUID() string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xcf000000+s.nextID, s.nextID)
}

// Upload adds a version to the script (creating the script when missing)
// without deploying it, as `wrangler versions upload` does, and returns the
// version's id.
func (s *VersionsServer) Upload(account, script string) string {
	s.ensureScript(account, script)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upload(account, script)
}

func (s *VersionsServer) upload(account, script string) string {
	h := s.scriptHistoryOf(account, script)
	v := Version{ID: s.versionUUID(), Number: len(h.versions) + 1, Metadata: VersionMetadata{
		AuthorEmail: AuthorEmail, AuthorID: "408cbcdfd4dda4617efef40b04d168a1",
		CreatedOn: Timestamp, ModifiedOn: Timestamp, Source: "api",
	}}
	h.versions = append(h.versions, v)
	return v.ID
}

// Deploy uploads a new version of the script (creating the script when
// missing) and deploys it to 100% of traffic, as an upload by `pulumi up` or
// `wrangler deploy` does. It returns the new version's id.
func (s *VersionsServer) Deploy(account, script string) string {
	s.ensureScript(account, script)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.upload(account, script)
	s.deploy(account, script, []DeploymentVersion{{VersionID: id, Percentage: 100}}, "api", nil)
	return id
}

func (s *VersionsServer) deploy(account, script string, vs []DeploymentVersion, source string, ann map[string]string) Deployment {
	h := s.scriptHistoryOf(account, script)
	d := Deployment{ID: s.versionUUID(), CreatedOn: Timestamp, Source: source, Strategy: "percentage",
		Versions: slices.Clone(vs), Annotations: ann, AuthorEmail: AuthorEmail}
	h.deployments = append([]Deployment{d}, h.deployments...)
	return d
}

func (s *VersionsServer) ensureScript(account, script string) {
	s.mu.Lock()
	exists := s.script(s.account(account), script) != nil
	s.mu.Unlock()
	if !exists {
		s.PutScript(account, Script{Name: script, CompatibilityDate: "2026-01-01"})
	}
}

// Deployments lists the script's deployments, newest first.
func (s *VersionsServer) Deployments(account, script string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scriptHistoryOf(account, script).deployments)
}

// Active is the versions of the script's newest deployment (nil when it has
// none).
func (s *VersionsServer) Active(account, script string) []DeploymentVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.scriptHistoryOf(account, script)
	if len(h.deployments) == 0 {
		return nil
	}
	return slices.Clone(h.deployments[0].Versions)
}

// ---- HTTP ----

// splitVersionsPath splits /accounts/{a}/workers/scripts/{s}/{versions|deployments}[/...].
func splitVersionsPath(path string) (account, script string, rest []string, ok bool) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	if len(seg) >= 6 && seg[0] == "accounts" && seg[2] == "workers" && seg[3] == "scripts" &&
		(seg[5] == "versions" || seg[5] == "deployments") {
		return seg[1], seg[4], seg[5:], true
	}
	return "", "", nil, false
}

// handleVersions answers a versions or deployments request; s.mu is held.
func (s *VersionsServer) handleVersions(r *http.Request, account, script string, rest []string) reply {
	a := s.state.Accounts[account]
	if a == nil {
		return fail(http.StatusForbidden, ErrAuthentication)
	}
	if s.script(a, script) == nil {
		return notFound(10007, "This Worker does not exist on your account.")
	}
	h := s.scriptHistoryOf(account, script)
	switch {
	case len(rest) == 1 && rest[0] == "versions" && r.Method == http.MethodGet:
		newest := slices.Clone(h.versions)
		slices.Reverse(newest) // the first version listed is the latest
		rep := paged(s.Server, r, newest)
		items := rep.env.Result
		rep.env.Result = map[string]any{"items": items}
		return rep
	case len(rest) == 1 && rest[0] == "deployments" && r.Method == http.MethodGet:
		ds := slices.Clone(h.deployments)
		if ds == nil {
			ds = []Deployment{}
		}
		return ok(map[string]any{"deployments": ds})
	case len(rest) == 1 && rest[0] == "deployments" && r.Method == http.MethodPost:
		var body struct {
			Strategy    string              `json:"strategy"`
			Versions    []DeploymentVersion `json:"versions"`
			Annotations map[string]string   `json:"annotations"`
		}
		if !decode(r, &body) {
			return fail(http.StatusBadRequest, ErrBadRequest)
		}
		if msg := checkNewDeployment(h, body.Strategy, body.Versions); msg != "" {
			return fail(http.StatusBadRequest, Message{ErrBadRequest.Code, msg})
		}
		return ok(s.deploy(account, script, body.Versions, "api", body.Annotations))
	case len(rest) == 1:
		return fail(http.StatusMethodNotAllowed, ErrMethod)
	}
	return fail(http.StatusNotFound, ErrNoRoute)
}

// checkNewDeployment says what is wrong with a new deployment, or "".
func checkNewDeployment(h *scriptHistory, strategy string, vs []DeploymentVersion) string {
	if strategy != "percentage" {
		return fmt.Sprintf("strategy %q is not supported: use \"percentage\"", strategy)
	}
	if len(vs) < 1 || len(vs) > 2 {
		return fmt.Sprintf("a deployment has one or two versions, not %d", len(vs))
	}
	sum := 0.0
	for _, v := range vs {
		if !slices.ContainsFunc(h.versions, func(x Version) bool { return x.ID == v.VersionID }) {
			return fmt.Sprintf("version %q is not a version of this Worker", v.VersionID)
		}
		if v.Percentage < 0.01 || v.Percentage > 100 {
			return fmt.Sprintf("percentage %v is outside 0.01..100", v.Percentage)
		}
		sum += v.Percentage
	}
	if math.Abs(sum-100) > 1e-9 {
		return fmt.Sprintf("the percentages add up to %v, not 100", sum)
	}
	return ""
}
