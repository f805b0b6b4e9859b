package cftest

// Workers versions and deployments: the API `zerocost deploy` reads before
// `pulumi up` and writes to roll a Worker back.
//
// Every Server answers
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
// with code 10001).
//
// A script must exist (PutScript, Deploy, or an upload) or these paths answer
// 404 with code 10007, as the real API does for a Worker that does not exist.
// An upload (PUT .../workers/scripts/{script}, what `pulumi up` sends) makes
// a new version and deploys it to 100%, as Cloudflare does; Deploy does the
// same from Go, Upload makes a version without deploying it.

import (
	"fmt"
	"math"
	"net/http"
	"slices"
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
	// uploads holds what each uploaded version was (code, bindings,
	// settings), by version id; versions made from Go (Deploy, Upload) have
	// none.
	uploads map[string]Script
}

// VersionsServer is a Server; it remains for callers written when versions
// and deployments were an extension. Every Server serves them now.
type VersionsServer struct {
	*Server
}

// NewVersions starts a server and stops it when the test ends (as New).
func NewVersions(t testing.TB, opts ...Option) *VersionsServer {
	t.Helper()
	return &VersionsServer{Server: New(t, opts...)}
}

func (s *Server) scriptHistoryOf(account, script string) *scriptHistory {
	return entry(s.histories, account+"/"+script)
}

func (s *Server) versionUUID() string { return s.uuid() }

// Upload adds a version to the script (creating the script when missing)
// without deploying it, as `wrangler versions upload` does, and returns the
// version's id.
func (s *Server) Upload(account, script string) string {
	s.ensureScript(account, script)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upload(account, script)
}

func (s *Server) upload(account, script string) string {
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
func (s *Server) Deploy(account, script string) string {
	s.ensureScript(account, script)
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.upload(account, script)
	s.deploy(account, script, []DeploymentVersion{{VersionID: id, Percentage: 100}}, "api", nil)
	return id
}

func (s *Server) deploy(account, script string, vs []DeploymentVersion, source string, ann map[string]string) Deployment {
	h := s.scriptHistoryOf(account, script)
	d := Deployment{ID: s.versionUUID(), CreatedOn: Timestamp, Source: source, Strategy: "percentage",
		Versions: slices.Clone(vs), Annotations: ann, AuthorEmail: AuthorEmail}
	h.deployments = append([]Deployment{d}, h.deployments...)
	return d
}

func (s *Server) ensureScript(account, script string) {
	s.mu.Lock()
	exists := s.script(s.account(account), script) != nil
	s.mu.Unlock()
	if !exists {
		s.PutScript(account, Script{Name: script, CompatibilityDate: "2026-01-01"})
	}
}

// Versions lists the script's versions, oldest first.
func (s *Server) Versions(account, script string) []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scriptHistoryOf(account, script).versions)
}

// Deployments lists the script's deployments, newest first.
func (s *Server) Deployments(account, script string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scriptHistoryOf(account, script).deployments)
}

// Active is the versions of the script's newest deployment (nil when it has
// none).
func (s *Server) Active(account, script string) []DeploymentVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.scriptHistoryOf(account, script)
	if len(h.deployments) == 0 {
		return nil
	}
	return slices.Clone(h.deployments[0].Versions)
}

// ---- HTTP ----

func versionList(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	newest := slices.Clone(c.s.scriptHistoryOf(c.account, sc.Name).versions)
	slices.Reverse(newest) // the first version listed is the latest
	rep = paged(c.s, c.r, newest)
	rep.env.Result = map[string]any{"items": rep.env.Result}
	return rep
}

func deploymentList(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	return ok(map[string]any{"deployments": nonNil(slices.Clone(c.s.scriptHistoryOf(c.account, sc.Name).deployments))})
}

func deploymentCreate(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	h := c.s.scriptHistoryOf(c.account, sc.Name)
	var body struct {
		Strategy    string              `json:"strategy"`
		Versions    []DeploymentVersion `json:"versions"`
		Annotations map[string]string   `json:"annotations"`
	}
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if msg := checkNewDeployment(h, body.Strategy, body.Versions); msg != "" {
		return fail(http.StatusBadRequest, Message{ErrBadRequest.Code, msg})
	}
	// A version deployed to all traffic is what the script then is: its code
	// and settings read back as that version's (a rollback restores them).
	if up, found := h.uploads[body.Versions[0].VersionID]; len(body.Versions) == 1 && found {
		sc.restore(up)
	}
	return ok(c.s.deploy(c.account, sc.Name, body.Versions, "api", body.Annotations))
}

// restore makes the script what an uploaded version was, keeping what is
// not part of a version (workers.dev, schedules, identity).
func (sc *Script) restore(v Script) {
	keep := *sc
	*sc = cloneScript(&v)
	sc.Name, sc.Tag, sc.CreatedOn = keep.Name, keep.Tag, keep.CreatedOn
	sc.WorkersDev, sc.PreviewsEnabled, sc.Schedules = keep.WorkersDev, keep.PreviewsEnabled, keep.Schedules
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
