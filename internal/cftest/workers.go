package cftest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"time"
)

// maxUpload bounds a script upload (Cloudflare's limit is 10 MiB compressed).
const maxUpload = 64 << 20

// scriptName is the schema's pattern for Worker names (at most 63).
var scriptName = regexp.MustCompile(`^[a-z0-9_][a-z0-9-_]{0,62}$`)

func scriptOf(c *call) (*Script, reply) {
	sc := c.s.script(c.a, c.p["script"])
	if sc == nil {
		return nil, notFound(10007, "This Worker does not exist on your account.")
	}
	return sc, reply{}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// json is the script object the upload answers and the services view nests.
func (sc *Script) json() map[string]any {
	m := map[string]any{
		"id": sc.Name, "tag": sc.Tag, "etag": sc.Etag, "handlers": nonNil(sc.Handlers), "named_handlers": []any{},
		"created_on": sc.CreatedOn, "modified_on": sc.ModifiedOn,
		"compatibility_date": sc.CompatibilityDate, "compatibility_flags": nonNil(sc.CompatibilityFlags),
		"usage_model": sc.UsageModel, "logpush": sc.Logpush,
		"has_assets": false, "has_modules": sc.BodyPart == "", "last_deployed_from": "api",
	}
	sc.optional(m)
	return m
}

// optional adds the settings an upload set and Cloudflare echoes back.
func (sc *Script) optional(m map[string]any) {
	for k, v := range map[string]json.RawMessage{"limits": sc.Limits, "observability": sc.Observability,
		"placement": sc.Placement, "tail_consumers": sc.TailConsumers} {
		if len(v) > 0 && string(v) != "null" {
			m[k] = v
		}
	}
}

func scriptList(c *call) reply {
	out := []map[string]any{}
	for _, sc := range c.a.Scripts {
		out = append(out, sc.json())
	}
	return ok(out)
}

// ---- upload ----

type uploadMeta struct {
	MainModule         string            `json:"main_module"`
	BodyPart           string            `json:"body_part"`
	CompatibilityDate  string            `json:"compatibility_date"`
	CompatibilityFlags []string          `json:"compatibility_flags"`
	Bindings           []json.RawMessage `json:"bindings"`
	Logpush            *bool             `json:"logpush"`
	UsageModel         string            `json:"usage_model"`
	KeepBindings       []string          `json:"keep_bindings"`
	Annotations        map[string]string `json:"annotations"`
	Limits             json.RawMessage   `json:"limits"`
	Observability      json.RawMessage   `json:"observability"`
	Placement          json.RawMessage   `json:"placement"`
	TailConsumers      json.RawMessage   `json:"tail_consumers"`
	Assets             json.RawMessage   `json:"assets"`
}

var (
	moduleTypes = []string{"application/javascript+module", "text/javascript+module", "text/x-python"}
	scriptTypes = []string{"application/javascript", "text/javascript"}
	partTypes   = append(slices.Clone(append(moduleTypes, scriptTypes...)), "text/x-python-requirement",
		"application/wasm", "text/plain", "application/octet-stream", "application/source-map")
	// handlerCalls find the handlers besides fetch in a Worker's code.
	handlerCalls = func() map[string]*regexp.Regexp {
		m := map[string]*regexp.Regexp{}
		for _, h := range []string{"scheduled", "queue", "email", "tail", "trace"} {
			m[h] = regexp.MustCompile(`\b` + h + `\s*\(`)
		}
		return m
	}()
)

func uploadError(format string, args ...any) reply {
	return badRequest(10021, fmt.Sprintf(format, args...))
}

// scriptUpload is PUT .../workers/scripts/{name}: a multipart/form-data
// body with a `metadata` JSON part and the code parts. It creates or
// replaces the script, and, as Cloudflare does, makes a new version of it
// and deploys that version to 100% of traffic.
func scriptUpload(c *call) reply {
	name := c.p["script"]
	if !scriptName.MatchString(name) {
		return uploadError("%q is not a valid Worker name: lower-case letters, digits, - and _, at most 63", name)
	}
	mt, params, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return uploadError("a Worker upload is multipart/form-data, not %q", c.r.Header.Get("Content-Type"))
	}
	parts, bad := readParts(io.LimitReader(c.r.Body, maxUpload), params["boundary"])
	if bad != nil {
		return *bad
	}
	meta, rawMeta, parts, bad := splitMetadata(parts)
	if bad != nil {
		return *bad
	}
	modules, bad := uploadModules(meta, parts)
	if bad == nil {
		bad = c.checkUploadMeta(&meta)
	}
	if bad != nil {
		return *bad
	}
	old := c.s.script(c.a, name)
	bindings, bad := c.uploadBindings(meta, old)
	if bad != nil {
		return *bad
	}
	sc := &Script{
		Name: name, CompatibilityDate: meta.CompatibilityDate, CompatibilityFlags: meta.CompatibilityFlags,
		Bindings: bindings, MainModule: meta.MainModule, BodyPart: meta.BodyPart, Modules: modules,
		Metadata: bytes.Clone(rawMeta), UsageModel: meta.UsageModel, Logpush: meta.Logpush != nil && *meta.Logpush,
		Limits: meta.Limits, Observability: meta.Observability, Placement: meta.Placement, TailConsumers: meta.TailConsumers,
		Annotations: meta.Annotations, Tag: c.s.id(), Etag: uploadEtag(modules, rawMeta),
		CreatedOn: Timestamp, ModifiedOn: Timestamp, Handlers: handlers(modules[0].Content),
	}
	if old != nil {
		sc.Tag, sc.CreatedOn = old.Tag, old.CreatedOn
		sc.WorkersDev, sc.PreviewsEnabled, sc.Schedules = old.WorkersDev, old.PreviewsEnabled, old.Schedules
		*old = *sc
		sc = old
	} else {
		c.a.Scripts = append(c.a.Scripts, sc)
	}
	c.deployUpload(name, sc, meta.Annotations["workers/message"])
	out := sc.json()
	out["startup_time_ms"] = 0
	return ok(out)
}

// uploadPart is one part of a Worker upload.
type uploadPart struct {
	name, contentType string
	body              []byte
}

// readParts reads a Worker upload's parts, each named once.
func readParts(body io.Reader, boundary string) ([]uploadPart, *reply) {
	var parts []uploadPart
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, ptr(uploadError("malformed multipart body: %v", err))
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, ptr(uploadError("malformed multipart body: %v", err))
		}
		// A module is named by its part's name, which main_module and
		// body_part refer to (wrangler and the provider give the filename
		// the same value; cloudflare-go's own encoding, parts files.0 and
		// metadata.main_module fields, is refused as Cloudflare refuses it).
		pn := p.FormName()
		if pn == "" {
			return nil, ptr(uploadError("a part has no form-data name"))
		}
		if slices.ContainsFunc(parts, func(x uploadPart) bool { return x.name == pn }) {
			return nil, ptr(uploadError("part %q appears twice", pn))
		}
		parts = append(parts, uploadPart{pn, p.Header.Get("Content-Type"), b})
	}
}

// splitMetadata parses the metadata part and returns the other parts.
func splitMetadata(parts []uploadPart) (uploadMeta, []byte, []uploadPart, *reply) {
	var meta uploadMeta
	mi := slices.IndexFunc(parts, func(x uploadPart) bool { return x.name == "metadata" })
	if mi < 0 {
		return meta, nil, nil, ptr(uploadError("could not read content for part metadata: the upload has no metadata part"))
	}
	if err := json.Unmarshal(parts[mi].body, &meta); err != nil {
		return meta, nil, nil, ptr(uploadError("metadata is not valid JSON: %v", err))
	}
	rawMeta := parts[mi].body
	return meta, rawMeta, slices.Delete(parts, mi, mi+1), nil
}

// uploadModules checks the code parts' content types and returns them as
// modules, the entry point (main_module or body_part) first.
func uploadModules(meta uploadMeta, parts []uploadPart) ([]Module, *reply) {
	entry, types := meta.MainModule, moduleTypes
	switch {
	case meta.MainModule != "" && meta.BodyPart != "":
		return nil, ptr(uploadError("metadata sets both main_module and body_part"))
	case meta.MainModule == "" && meta.BodyPart == "":
		return nil, ptr(uploadError("metadata sets neither main_module nor body_part"))
	case meta.BodyPart != "":
		entry, types = meta.BodyPart, scriptTypes
	}
	ei := slices.IndexFunc(parts, func(x uploadPart) bool { return x.name == entry })
	if ei < 0 {
		return nil, ptr(uploadError("No such module %q: the upload has no part named as its entry point", entry))
	}
	ct, _, _ := mime.ParseMediaType(parts[ei].contentType)
	if !slices.Contains(types, ct) {
		return nil, ptr(uploadError("entry point %q has content type %q, want one of %s", entry, parts[ei].contentType, strings.Join(types, ", ")))
	}
	modules := []Module{{Name: entry, ContentType: parts[ei].contentType, Content: string(parts[ei].body)}}
	for i, p := range parts {
		ct, _, _ := mime.ParseMediaType(p.contentType)
		if !slices.Contains(partTypes, ct) {
			return nil, ptr(uploadError("part %q has content type %q, not one Workers accepts", p.name, p.contentType))
		}
		if i != ei {
			modules = append(modules, Module{Name: p.name, ContentType: p.contentType, Content: string(p.body)})
		}
	}
	return modules, nil
}

// checkUploadMeta checks the metadata's compatibility date, usage model
// (defaulting it to standard) and assets.
func (c *call) checkUploadMeta(meta *uploadMeta) *reply {
	if meta.CompatibilityDate != "" {
		d, err := time.Parse(time.DateOnly, meta.CompatibilityDate)
		if err != nil {
			return ptr(uploadError("compatibility_date %q is not YYYY-MM-DD", meta.CompatibilityDate))
		}
		if d.After(c.s.now().UTC().Add(24 * time.Hour)) {
			return ptr(uploadError("Can't set compatibility date in the future: %s", meta.CompatibilityDate))
		}
	}
	switch meta.UsageModel {
	case "":
		meta.UsageModel = "standard"
	case "standard", "bundled", "unbound":
	default:
		return ptr(uploadError("usage_model %q is not standard, bundled or unbound", meta.UsageModel))
	}
	if len(meta.Assets) > 0 && string(meta.Assets) != "null" {
		return ptr(uploadError("the fake does not serve Workers static assets (metadata.assets)"))
	}
	return nil
}

// uploadBindings parses the metadata's bindings, adds the old script's
// bindings that keep_bindings keeps, and checks them all.
func (c *call) uploadBindings(meta uploadMeta, old *Script) ([]Binding, *reply) {
	bindings := make([]Binding, len(meta.Bindings))
	textSet := map[int]bool{}
	for i, raw := range meta.Bindings {
		if err := json.Unmarshal(raw, &bindings[i]); err != nil {
			return nil, ptr(uploadError("binding %d is not valid: %v", i, err))
		}
		var keys map[string]json.RawMessage
		_ = json.Unmarshal(raw, &keys)
		_, textSet[i] = keys["text"]
	}
	if old != nil && len(meta.KeepBindings) > 0 {
		for _, b := range old.Bindings {
			if slices.Contains(meta.KeepBindings, b.Type) && !slices.ContainsFunc(bindings, func(x Binding) bool { return x.Name == b.Name }) {
				textSet[len(bindings)] = true
				bindings = append(bindings, b.clone())
			}
		}
	}
	if msg := c.s.checkBindings(c.a, bindings, textSet); msg != nil {
		return nil, ptr(fail(http.StatusBadRequest, *msg))
	}
	return bindings, nil
}

// uploadEtag is the hash of an upload's modules and metadata.
func uploadEtag(modules []Module, rawMeta []byte) string {
	sum := sha256.New()
	for _, m := range modules {
		fmt.Fprintf(sum, "%s\x00%s\x00%d\x00", m.Name, m.ContentType, len(m.Content))
		io.WriteString(sum, m.Content)
	}
	sum.Write(rawMeta)
	return hex.EncodeToString(sum.Sum(nil))
}

// deployUpload records the upload as a new version of the script and
// deploys it to 100% of traffic, as Cloudflare does.
func (c *call) deployUpload(name string, sc *Script, message string) {
	id := c.s.upload(c.account, name)
	h := c.s.scriptHistoryOf(c.account, name)
	if h.uploads == nil {
		h.uploads = map[string]Script{}
	}
	h.uploads[id] = cloneScript(sc)
	ann := map[string]string{"workers/triggered_by": "upload"}
	if message != "" {
		ann["workers/message"] = message
	}
	c.s.deploy(c.account, name, []DeploymentVersion{{VersionID: id, Percentage: 100}}, "api", ann)
}

// handlers guesses the handlers a Worker's default export has from its
// code: fetch always, the others when "name(" appears. (Cloudflare runs the
// script to know.)
func handlers(code string) []string {
	out := []string{"fetch"}
	for _, h := range slices.Sorted(maps.Keys(handlerCalls)) {
		if handlerCalls[h].MatchString(code) {
			out = append(out, h)
		}
	}
	return out
}

// scriptBody answers a script's code: the entry point alone, byte for byte,
// when it is the only module; otherwise multipart/form-data with the entry
// point first. A script with no code (seeded with PutScript) is 204.
func scriptBody(sc *Script) reply {
	if len(sc.Modules) == 0 {
		return reply{status: http.StatusNoContent}
	}
	h := http.Header{}
	h.Set("cf-entrypoint", sc.Modules[0].Name)
	if len(sc.Modules) == 1 {
		ct := sc.Modules[0].ContentType
		if ct == "" {
			ct = "application/javascript+module"
		}
		h.Set("Content-Type", ct)
		return reply{status: http.StatusOK, raw: []byte(sc.Modules[0].Content), header: h}
	}
	parts := make([]formPart, len(sc.Modules))
	for i, m := range sc.Modules {
		parts[i] = formPart{name: m.Name, filename: m.Name, contentType: m.ContentType, body: m.Content}
	}
	ct, body := formData(parts...)
	h.Set("Content-Type", ct)
	return reply{status: http.StatusOK, raw: body, header: h}
}

// formPart is one part of a multipart/form-data body.
type formPart struct {
	name, filename, contentType, body string
}

// formData is a multipart/form-data body of parts (a part without filename
// has none in its Content-Disposition, as the provider's metadata part) and
// its content type.
func formData(parts ...formPart) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		h.Set("Content-Type", p.contentType)
		pw, _ := w.CreatePart(h) // writing to a bytes.Buffer does not fail
		_, _ = io.WriteString(pw, p.body)
	}
	_ = w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// scriptDownload is GET .../workers/scripts/{name}: the raw code, not JSON.
func scriptDownload(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	return scriptBody(sc)
}

// scriptContent is GET .../content/v2 (cloudflare-go sends Accept: string).
func scriptContent(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	return scriptBody(sc)
}

// scriptDelete deletes the script with its schedules, workers.dev setting
// and version history.
func scriptDelete(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	c.a.Scripts = slices.DeleteFunc(c.a.Scripts, func(x *Script) bool { return x == sc })
	delete(c.s.histories, c.account+"/"+sc.Name)
	return ok(map[string]any{})
}

// scriptSettings is GET .../settings: the bindings exactly as uploaded but
// for secret texts, and the settings that were set.
func scriptSettings(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	m := map[string]any{
		"bindings": renderBindings(sc.Bindings), "compatibility_date": sc.CompatibilityDate,
		"compatibility_flags": nonNil(sc.CompatibilityFlags), "logpush": sc.Logpush,
		"tags": []string{}, "usage_model": sc.UsageModel,
		// Cloudflare answers an empty placement when none was set; the
		// provider's Read needs it (it reads placement.mode and panics on a
		// missing placement). cloudflare-go v7.9.0's typed decoding of
		// this answer panics on it: read settings raw.
		"placement": map[string]any{},
	}
	sc.optional(m)
	return ok(m)
}

func scriptScriptSettings(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	m := map[string]any{"logpush": sc.Logpush, "tail_consumers": []any{}, "observability": map[string]any{"enabled": false}}
	sc.optional(m)
	delete(m, "limits")
	delete(m, "placement")
	return ok(m)
}

// serviceGet is GET .../workers/services/{name}: the script's service and
// its production environment, in the shape wrangler and the provider read
// (default_environment.script is the script object).
func serviceGet(c *call) reply {
	sc := c.s.script(c.a, c.p["script"])
	if sc == nil {
		return notFound(10090, "workers.api.error.service_not_found")
	}
	env := map[string]any{"environment": "production", "created_on": sc.CreatedOn, "modified_on": sc.ModifiedOn}
	def := map[string]any{"environment": "production", "created_on": sc.CreatedOn, "modified_on": sc.ModifiedOn, "script": sc.json()}
	return ok(map[string]any{"id": sc.Name, "default_environment": def, "created_on": sc.CreatedOn,
		"modified_on": sc.ModifiedOn, "environments": []any{env}})
}

func accountSubdomain(c *call) reply {
	if c.a.Subdomain == "" {
		return notFound(10007, "This subdomain does not exist.")
	}
	return ok(map[string]string{"subdomain": c.a.Subdomain})
}

// ---- workers.dev subdomain of a script ----

func subdomainJSON(sc *Script) map[string]bool {
	return map[string]bool{"enabled": sc.WorkersDev, "previews_enabled": sc.PreviewsEnabled}
}

func subdomainGet(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	return ok(subdomainJSON(sc))
}

// subdomainPost sets {enabled, previews_enabled?}; previews follow enabled
// when not given.
func subdomainPost(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	var body struct {
		Enabled         *bool `json:"enabled"`
		PreviewsEnabled *bool `json:"previews_enabled"`
	}
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if body.Enabled == nil {
		return invalidBody("enabled is required")
	}
	sc.WorkersDev, sc.PreviewsEnabled = *body.Enabled, *body.Enabled
	if body.PreviewsEnabled != nil {
		sc.PreviewsEnabled = *body.PreviewsEnabled
	}
	return ok(subdomainJSON(sc))
}

func subdomainDelete(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	sc.WorkersDev, sc.PreviewsEnabled = false, false
	return ok(subdomainJSON(sc))
}

// ---- cron triggers ----

var cronField = regexp.MustCompile(`^[0-9A-Za-z*/,?#LW-]+$`)

func validCron(s string) bool {
	f := strings.Fields(s)
	if len(f) != 5 {
		return false
	}
	for _, x := range f {
		if !cronField.MatchString(x) {
			return false
		}
	}
	return true
}

func schedulesGet(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	return ok(map[string]any{"schedules": nonNil(sc.Schedules)})
}

// schedulesPut replaces the schedules; the body is a bare JSON array
// [{"cron": "..."}].
func schedulesPut(c *call) reply {
	sc, rep := scriptOf(c)
	if sc == nil {
		return rep
	}
	var body []struct {
		Cron string `json:"cron"`
	}
	if !decode(c.r, &body) || body == nil {
		return invalidBody(`the body is a JSON array of {"cron": "..."}`)
	}
	out := make([]Schedule, 0, len(body))
	for _, b := range body {
		if !validCron(b.Cron) {
			return invalidBody(fmt.Sprintf("%q is not a valid cron expression (five fields)", b.Cron))
		}
		if slices.ContainsFunc(out, func(x Schedule) bool { return x.Cron == b.Cron }) {
			return invalidBody(fmt.Sprintf("cron %q is listed twice", b.Cron))
		}
		out = append(out, Schedule{Cron: b.Cron, CreatedOn: Timestamp, ModifiedOn: Timestamp})
	}
	sc.Schedules = out
	return ok(map[string]any{"schedules": out})
}

// ---- custom domains ----

var hostname = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

func domainList(c *call) reply {
	q := c.r.URL.Query()
	out := []CustomDomain{}
	for _, d := range c.a.CustomDomains {
		if match(q, "hostname", d.Hostname) && match(q, "service", d.Service) && match(q, "zone_id", d.ZoneID) &&
			match(q, "zone_name", d.ZoneName) && match(q, "environment", d.Environment) {
			out = append(out, d)
		}
	}
	return ok(out)
}

func match(q map[string][]string, key, value string) bool {
	want := ""
	if v := q[key]; len(v) > 0 {
		want = v[0]
	}
	return want == "" || want == value
}

// apexOf is a hostname's last two labels, the zone name used when a zone
// was made known without one.
func apexOf(host string) string {
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return host
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

func inZone(host, zone string) bool { return host == zone || strings.HasSuffix(host, "."+zone) }

// domainAttach is PUT .../workers/domains {hostname, service, environment?,
// zone_id?, zone_name?}: it attaches the hostname to the Worker (again, if
// it already is) and answers the domain.
func domainAttach(c *call) reply {
	var body struct {
		Hostname    string `json:"hostname"`
		Service     string `json:"service"`
		Environment string `json:"environment"`
		ZoneID      string `json:"zone_id"`
		ZoneName    string `json:"zone_name"`
	}
	if !decode(c.r, &body) {
		return fail(http.StatusBadRequest, ErrBadRequest)
	}
	if !hostname.MatchString(body.Hostname) {
		return invalidBody(fmt.Sprintf("hostname %q is not a valid hostname", body.Hostname))
	}
	if body.Service == "" {
		return invalidBody("service is required")
	}
	if c.s.script(c.a, body.Service) == nil {
		return notFound(10007, "This Worker does not exist on your account.")
	}
	if body.Environment == "" {
		body.Environment = "production"
	}
	if body.Environment != "production" {
		return invalidBody(fmt.Sprintf("environment %q does not exist (only production)", body.Environment))
	}
	zoneID, zoneName := body.ZoneID, body.ZoneName
	switch {
	case zoneID != "":
		z := c.s.state.Zones[zoneID]
		if z == nil {
			return fail(http.StatusForbidden, ErrAuthentication)
		}
		zoneName = z.Name
		if zoneName == "" {
			zoneName = apexOf(body.Hostname)
		}
		if body.ZoneName != "" && body.ZoneName != zoneName {
			return invalidBody(fmt.Sprintf("zone %s is %s, not %s", zoneID, zoneName, body.ZoneName))
		}
	default:
		for _, id := range slices.Sorted(maps.Keys(c.s.state.Zones)) {
			z := c.s.state.Zones[id]
			if z.Name != "" && ((zoneName != "" && z.Name == zoneName) || (zoneName == "" && inZone(body.Hostname, z.Name))) {
				zoneID, zoneName = id, z.Name
				break
			}
		}
		if zoneID == "" {
			return invalidBody(fmt.Sprintf("no zone of this account holds %s", body.Hostname))
		}
	}
	if !inZone(body.Hostname, zoneName) {
		return invalidBody(fmt.Sprintf("hostname %s is not in zone %s", body.Hostname, zoneName))
	}
	for i, d := range c.a.CustomDomains {
		if d.Hostname == body.Hostname {
			d.Service, d.Environment, d.ZoneID, d.ZoneName = body.Service, body.Environment, zoneID, zoneName
			c.a.CustomDomains[i] = d
			return ok(d)
		}
	}
	d := CustomDomain{ID: c.s.id(), Hostname: body.Hostname, Service: body.Service, Environment: body.Environment,
		ZoneID: zoneID, ZoneName: zoneName, CertID: c.s.uuid()}
	c.a.CustomDomains = append(c.a.CustomDomains, d)
	return ok(d)
}

var customDomains = collection[CustomDomain]{
	list:    func(c *call) *[]CustomDomain { return &c.a.CustomDomains },
	named:   func(c *call, d CustomDomain) bool { return d.ID == c.p["id"] },
	missing: func(*call) reply { return notFound(100114, "Domain not found") },
}

var (
	domainGet    = customDomains.get(asIs)
	domainDetach = customDomains.remove(nothing)
)

// ---- zone routes ----

type routeBody struct {
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
}

func (c *call) routeBody(self string) (routeBody, *reply) {
	var body routeBody
	if !decode(c.r, &body) {
		rep := fail(http.StatusBadRequest, ErrBadRequest)
		return body, &rep
	}
	if body.Pattern == "" || strings.Contains(body.Pattern, "://") || strings.ContainsAny(body.Pattern, " \t") {
		rep := invalidBody(fmt.Sprintf("pattern %q is not a route pattern (host/path, no scheme)", body.Pattern))
		return body, &rep
	}
	for _, old := range c.z.Routes {
		if old.Pattern == body.Pattern && old.ID != self {
			rep := fail(http.StatusConflict, Message{10020, "A route with the same pattern already exists"})
			return body, &rep
		}
	}
	return body, nil
}

func routeList(c *call) reply { return ok(nonNil(slices.Clone(c.z.Routes))) }

func routeCreate(c *call) reply {
	body, bad := c.routeBody("")
	if bad != nil {
		return *bad
	}
	rt := Route{ID: c.s.id(), Pattern: body.Pattern, Script: body.Script}
	c.z.Routes = append(c.z.Routes, rt)
	return ok(rt)
}

var zoneRoutes = collection[Route]{
	list:    func(c *call) *[]Route { return &c.z.Routes },
	named:   func(c *call, rt Route) bool { return rt.ID == c.p["id"] },
	missing: func(*call) reply { return notFound(10020, "Route not found") },
}

var (
	routeGet    = zoneRoutes.get(asIs)
	routeUpdate = zoneRoutes.on(func(c *call, rt *Route) reply {
		body, bad := c.routeBody(rt.ID)
		if bad != nil {
			return *bad
		}
		rt.Pattern, rt.Script = body.Pattern, body.Script
		return ok(*rt)
	})
	routeDelete = zoneRoutes.remove(func(rt Route) any { return map[string]string{"id": rt.ID} })
)
