package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/outputs"
)

// ---- fakes ----

type fakeRunner struct {
	calls []string

	openErr, refreshErr, previewErr, upErr, outputsErr error
	preview, up                                        Changes
	upOutputs, current                                 outputs.Stack
	config                                             map[string]string
	steps                                              []Step
	diags                                              []Diagnostic
	// onUp runs inside Up, before it returns: what `pulumi up` changes.
	onUp func()
}

func (r *fakeRunner) Refresh(_ context.Context, p Progress) (Changes, error) {
	r.calls = append(r.calls, "refresh")
	if r.refreshErr != nil {
		return nil, r.refreshErr
	}
	return Changes{"same": 3}, nil
}

func (r *fakeRunner) Preview(_ context.Context, p Progress) (Changes, error) {
	r.calls = append(r.calls, "preview")
	for _, g := range r.diags {
		p.Diagnostic(g)
	}
	if r.previewErr != nil {
		return nil, r.previewErr
	}
	return r.preview, nil
}

func (r *fakeRunner) Up(_ context.Context, p Progress) (Changes, outputs.Stack, error) {
	r.calls = append(r.calls, "up")
	for _, s := range r.steps {
		p.Step(s)
	}
	if r.onUp != nil {
		r.onUp()
	}
	if r.upErr != nil {
		return nil, nil, r.upErr
	}
	return r.up, r.upOutputs, nil
}

func (r *fakeRunner) Outputs(context.Context) (outputs.Stack, error) {
	r.calls = append(r.calls, "outputs")
	if r.outputsErr != nil {
		return nil, r.outputsErr
	}
	if r.current == nil {
		return outputs.Stack{}, nil
	}
	return r.current, nil
}

func (r *fakeRunner) Config(_ context.Context, key string) (string, bool, error) {
	r.calls = append(r.calls, "config "+key)
	v, ok := r.config[key]
	return v, ok, nil
}

type verdict struct {
	passed bool
	err    error
}

type fakeVerifier struct {
	verdicts []verdict // one per call; the last repeats
	calls    []outputs.Stack
}

type fakeReport struct{ text string }

func (r fakeReport) Summary() string { return r.text }

func (v *fakeVerifier) Verify(_ context.Context, out outputs.Stack) (bool, any, error) {
	v.calls = append(v.calls, out)
	vd := v.verdicts[min(len(v.calls), len(v.verdicts))-1]
	return vd.passed, fakeReport{fmt.Sprintf("run %d", len(v.calls))}, vd.err
}

type fakeRollbacker struct {
	state       map[string]ScriptState
	activeErr   map[string]error
	rollbackErr map[string]error
	calls       []string
}

func (f *fakeRollbacker) Active(_ context.Context, script string) (ScriptState, error) {
	f.calls = append(f.calls, "active "+script)
	if err := f.activeErr[script]; err != nil {
		return ScriptState{}, err
	}
	st, ok := f.state[script]
	if !ok {
		return ScriptState{}, nil
	}
	return st, nil
}

func (f *fakeRollbacker) Rollback(_ context.Context, script string, to []VersionShare) error {
	f.calls = append(f.calls, "rollback "+script+" to "+FormatVersions(to))
	if err := f.rollbackErr[script]; err != nil {
		return err
	}
	st := f.state[script]
	st.Versions = slices.Clone(to)
	f.state[script] = st
	return nil
}

// deploy sets an active version, as an upload by `up` does.
func (f *fakeRollbacker) deploy(script, version string) {
	f.state[script] = ScriptState{Exists: true, Versions: []VersionShare{{version, 100}}}
}

type recSink struct{ events []Event }

func (s *recSink) Emit(e Event) { s.events = append(s.events, e) }

// phases lists the phase events as "phase:status".
func (s *recSink) phases() []string {
	var out []string
	for _, e := range s.events {
		if e.Type == EventPhase {
			out = append(out, e.Phase+":"+e.Status)
		}
	}
	return out
}

func (s *recSink) ofType(typ string) []Event {
	var out []Event
	for _, e := range s.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (s *recSink) result(t *testing.T) Event {
	t.Helper()
	if len(s.events) == 0 || s.events[len(s.events)-1].Type != EventResult {
		t.Fatalf("the last event is not the result: %+v", s.events)
	}
	return s.events[len(s.events)-1]
}

// ---- harness ----

type harness struct {
	cfg      Config
	runner   *fakeRunner
	verifier *fakeVerifier
	rb       *fakeRollbacker
	sink     *recSink
	forecast CostForecaster

	preflightErr error
	confirm      []bool // answers, in order
	questions    []string
	opened       int
	verifierArgs []Credentials
	rbArgs       []Credentials
}

const (
	scriptA = "sales-engine-demo"
	scriptB = "email-worker-demo"
	scriptC = "ai-relay-demo"
)

var deployed = outputs.Stack{"sales-engine": {Pattern: "event-agent", Script: scriptA, URL: "https://a.example"}}

// newHarness: three Workers, A and B exist, C is new; up uploads A and C.
func newHarness() *harness {
	h := &harness{
		cfg: Config{Stack: "demo", Scripts: []string{scriptA, scriptB, scriptC}, Products: []string{"sales-engine", "email-worker", "ai-relay"},
			Yes: true, CloudflareToken: "cf-token"},
		runner: &fakeRunner{
			preview:   Changes{"create": 1, "update": 2, "same": 5},
			up:        Changes{"create": 1, "update": 2, "same": 5},
			upOutputs: deployed,
			steps: []Step{
				{Op: "same", URN: "urn:pulumi:demo::zerocost::zerocost:patterns:EventDrivenAgent::sales-engine"},
				{Op: "create", URN: "urn:pulumi:demo::zerocost::pulumi:providers:cloudflare::default", Type: "pulumi:providers:cloudflare"},
				{Op: "update", URN: "urn:pulumi:demo::zerocost::zerocost:patterns:EventDrivenAgent$cloudflare:index/workersScript:WorkersScript::" + scriptA},
				{Op: "create", URN: "urn:pulumi:demo::zerocost::cloudflare:index/workersScript:WorkersScript::" + scriptC},
				{Op: "update", URN: "urn:pulumi:demo::zerocost::cloudflare:index/queueConsumer:QueueConsumer::q"},
			},
		},
		verifier: &fakeVerifier{verdicts: []verdict{{passed: true}}},
		rb: &fakeRollbacker{state: map[string]ScriptState{
			scriptA: {Exists: true, DeploymentID: "d1", Versions: []VersionShare{{"a1", 100}}},
			scriptB: {Exists: true, DeploymentID: "d2", Versions: []VersionShare{{"b1", 90}, {"b0", 10}}},
		}},
		sink: &recSink{},
	}
	h.runner.onUp = func() {
		h.rb.deploy(scriptA, "a2")
		h.rb.deploy(scriptC, "c1")
	}
	return h
}

func (h *harness) run(t *testing.T) (*Result, error) {
	t.Helper()
	deps := Deps{
		Preflight: func(context.Context) error { return h.preflightErr },
		Open: func(context.Context) (Runner, error) {
			h.opened++
			if h.runner.openErr != nil {
				return nil, h.runner.openErr
			}
			return h.runner, nil
		},
		NewVerifier: func(c Credentials) (Verifier, error) {
			h.verifierArgs = append(h.verifierArgs, c)
			return h.verifier, nil
		},
		NewRollbacker: func(c Credentials) (Rollbacker, error) {
			h.rbArgs = append(h.rbArgs, c)
			return h.rb, nil
		},
		Forecaster: h.forecast,
		Confirm: func(q string) (bool, error) {
			h.questions = append(h.questions, q)
			if len(h.confirm) == 0 {
				return false, errors.New("no answer")
			}
			a := h.confirm[0]
			h.confirm = h.confirm[1:]
			return a, nil
		},
		Sink: h.sink,
	}
	res, err := Run(context.Background(), h.cfg, deps)
	if res == nil {
		t.Fatal("Run returned no result")
	}
	r := h.sink.result(t)
	if *r.ExitCode != defaultExitCode(err) || r.Outcome != res.Outcome {
		t.Errorf("result event %+v does not match the return (%v, %s)", r, err, res.Outcome)
	}
	return res, err
}

func wantCode(t *testing.T, err error, code int, contains ...string) {
	t.Helper()
	if got := defaultExitCode(err); got != code {
		t.Fatalf("exit code %d, want %d (err %v)", got, code, err)
	}
	for _, c := range contains {
		if err == nil || !strings.Contains(err.Error(), c) {
			t.Errorf("error %v does not say %q", err, c)
		}
	}
}

func wantPhases(t *testing.T, s *recSink, want ...string) {
	t.Helper()
	if got := s.phases(); !slices.Equal(got, want) {
		t.Errorf("phases\n got %v\nwant %v", got, want)
	}
}

// ---- tests ----

func TestDeployAndVerify(t *testing.T) {
	h := newHarness()
	res, err := h.run(t)
	wantCode(t, err, 0)
	if res.Outcome != OutcomeDeployed || res.Verified == nil || !*res.Verified {
		t.Errorf("result %+v", res)
	}
	wantPhases(t, h.sink,
		"preflight:started", "preflight:done", "open:started", "open:done", "refresh:skipped",
		"preview:started", "preview:done", "cost:skipped", "confirm:skipped",
		"snapshot:started", "snapshot:done", "up:started", "up:done", "verify:started", "verify:done")
	if !slices.Equal(h.runner.calls, []string{"preview", "up"}) {
		t.Errorf("runner calls %v", h.runner.calls)
	}
	if want := []string{"active " + scriptA, "active " + scriptB, "active " + scriptC}; !slices.Equal(h.rb.calls, want) {
		t.Errorf("rollbacker calls %v, want only the snapshot %v", h.rb.calls, want)
	}
	if len(h.verifier.calls) != 1 || h.verifier.calls[0]["sales-engine"].Script != scriptA {
		t.Errorf("verified %v, want the outputs of up", h.verifier.calls)
	}
	// Snapshot: A and B recorded, C new.
	var snap []string
	for _, e := range h.sink.ofType(EventScript) {
		snap = append(snap, e.Script+"="+e.Status+" "+FormatVersions(e.Versions))
	}
	if want := []string{scriptA + "=recorded a1 (100%)", scriptB + "=recorded b1 (90%), b0 (10%)", scriptC + "=new none"}; !slices.Equal(snap, want) {
		t.Errorf("snapshot %v", snap)
	}
	// Progress counts the changing steps against the preview's 3; the
	// provider's create is not one (the engine's summary leaves it out).
	var prog []string
	for _, e := range h.sink.ofType(EventResource) {
		prog = append(prog, fmt.Sprintf("%d/%d %s %s", e.Done, e.Total, e.Op, shortURN(e.URN)))
	}
	if want := []string{"1/3 update WorkersScript " + scriptA, "2/3 create WorkersScript " + scriptC, "3/3 update QueueConsumer q"}; !slices.Equal(prog, want) {
		t.Errorf("progress %v", prog)
	}
	ch := h.sink.ofType(EventChanges)
	if len(ch) != 2 || ch[0].Phase != PhasePreview || ch[1].Phase != PhaseUp || ch[0].Changes["update"] != 2 {
		t.Errorf("changes events %+v", ch)
	}
	if r := h.sink.result(t); r.Outcome != OutcomeDeployed || len(r.RolledBack) != 0 || !strings.Contains(r.Message, "deployed and verified stack demo") {
		t.Errorf("result %+v", r)
	}
	if len(h.verifierArgs) != 1 || h.verifierArgs[0].CloudflareToken != "cf-token" || len(h.rbArgs) != 1 {
		t.Errorf("credentials %v %v", h.verifierArgs, h.rbArgs)
	}
}

func TestRefreshRunsFirst(t *testing.T) {
	h := newHarness()
	h.cfg.Refresh = true
	_, err := h.run(t)
	wantCode(t, err, 0)
	if !slices.Equal(h.runner.calls, []string{"refresh", "preview", "up"}) {
		t.Errorf("calls %v", h.runner.calls)
	}
}

func TestConfirm(t *testing.T) {
	h := newHarness()
	h.cfg.Yes, h.cfg.Interactive = false, true
	h.confirm = []bool{true}
	_, err := h.run(t)
	wantCode(t, err, 0)
	if len(h.questions) != 1 || !strings.Contains(h.questions[0], "stack demo: 1 to create, 2 to update, 5 unchanged?") {
		t.Errorf("questions %q", h.questions)
	}
	// The question comes after the preview and before the snapshot and up.
	ph := h.sink.phases()
	if i, j, k := slices.Index(ph, "preview:done"), slices.Index(ph, "confirm:done"), slices.Index(ph, "snapshot:started"); !(i < j && j < k) {
		t.Errorf("order %v", ph)
	}
}

func TestUserDeclines(t *testing.T) {
	h := newHarness()
	h.cfg.Yes, h.cfg.Interactive = false, true
	h.confirm = []bool{false}
	res, err := h.run(t)
	wantCode(t, err, 1, "cancelled", "nothing was changed")
	if res.Outcome != OutcomeDeclined || slices.Contains(h.runner.calls, "up") || len(h.rb.calls) != 0 || len(h.verifier.calls) != 0 {
		t.Errorf("declined, yet: %+v, runner %v, rollbacker %v", res, h.runner.calls, h.rb.calls)
	}
}

func TestConfirmError(t *testing.T) {
	h := newHarness()
	h.cfg.Yes, h.cfg.Interactive = false, true
	_, err := h.run(t) // no answer: the fake's Confirm fails
	wantCode(t, err, 1, "no answer")
	if slices.Contains(h.runner.calls, "up") {
		t.Error("up ran")
	}
}

func TestNotATerminalWithoutYes(t *testing.T) {
	h := newHarness()
	h.cfg.Yes, h.cfg.Interactive = false, false
	res, err := h.run(t)
	wantCode(t, err, 2, "--yes", "not a terminal")
	if h.opened != 0 || len(h.runner.calls) != 0 || len(h.questions) != 0 || res.Outcome != OutcomeFailed {
		t.Errorf("refused, yet ran: opened %d, calls %v, questions %v", h.opened, h.runner.calls, h.questions)
	}
}

func TestPreflightFails(t *testing.T) {
	h := newHarness()
	h.preflightErr = usageError(errors.New("the pulumi CLI is not on PATH"))
	_, err := h.run(t)
	wantCode(t, err, 2, "pulumi CLI")
	if h.opened != 0 {
		t.Error("the stack was opened")
	}
	wantPhases(t, h.sink, "preflight:started", "preflight:failed")
}

func TestOpenFails(t *testing.T) {
	h := newHarness()
	h.runner.openErr = errors.New("pulumi select stack demo failed: no backend")
	_, err := h.run(t)
	wantCode(t, err, 1, "no backend")
	if len(h.runner.calls) != 0 {
		t.Errorf("calls %v", h.runner.calls)
	}
}

func TestLockedStack(t *testing.T) {
	for _, where := range []string{"open", "preview", "up"} {
		t.Run(where, func(t *testing.T) {
			h := newHarness()
			locked := fmt.Errorf("pulumi %s failed: %w", where, ErrStackLocked)
			switch where {
			case "open":
				h.runner.openErr = locked
			case "preview":
				h.runner.previewErr = locked
			case "up":
				h.runner.upErr = locked
			}
			_, err := h.run(t)
			wantCode(t, err, 1, "stack demo is locked by another update", "pulumi cancel --stack demo")
			if !errors.Is(err, ErrStackLocked) {
				t.Errorf("%v is not ErrStackLocked", err)
			}
			if len(h.verifier.calls) != 0 || slices.ContainsFunc(h.rb.calls, func(c string) bool { return strings.HasPrefix(c, "rollback") }) {
				t.Error("verified or rolled back a locked stack")
			}
		})
	}
}

func TestRefreshFails(t *testing.T) {
	h := newHarness()
	h.cfg.Refresh = true
	h.runner.refreshErr = errors.New("pulumi refresh failed: boom")
	_, err := h.run(t)
	wantCode(t, err, 1, "refresh failed")
	if !slices.Equal(h.runner.calls, []string{"refresh"}) {
		t.Errorf("calls %v", h.runner.calls)
	}
	wantPhases(t, h.sink, "preflight:started", "preflight:done", "open:started", "open:done", "refresh:started", "refresh:failed")
}

func TestPreviewFails(t *testing.T) {
	h := newHarness()
	h.runner.previewErr = errors.New("pulumi preview failed: program error")
	h.runner.diags = []Diagnostic{
		{Severity: "info", Message: "building infra"},
		{Severity: "error", URN: "urn:x", Message: "stack demo: zerocost:anthropicApiKey: missing secret"},
		{Severity: "warning", Message: "deprecated"},
	}
	_, err := h.run(t)
	wantCode(t, err, 1, "program error")
	if !slices.Equal(h.runner.calls, []string{"preview"}) || len(h.rb.calls) != 0 {
		t.Errorf("runner %v rollbacker %v", h.runner.calls, h.rb.calls)
	}
	ds := h.sink.ofType(EventDiagnostic)
	if len(ds) != 2 || ds[0].Severity != "error" || !strings.Contains(ds[0].Message, "missing secret") || ds[1].Severity != "warning" {
		t.Errorf("diagnostics %+v", ds)
	}
}

func TestUpFailsNoVerifyNoRollback(t *testing.T) {
	h := newHarness()
	h.runner.upErr = errors.New("pulumi up failed: 1 resource failed")
	h.runner.steps = append(h.runner.steps, Step{Op: "update", URN: "urn:pulumi:demo::zerocost::cloudflare:index/workersScript:WorkersScript::" + scriptB, Failed: true})
	res, err := h.run(t)
	wantCode(t, err, 1, "1 resource failed")
	if len(h.verifier.calls) != 0 {
		t.Error("verified after a failed up")
	}
	for _, c := range h.rb.calls {
		if strings.HasPrefix(c, "rollback") {
			t.Errorf("rolled back after a failed up: %v", h.rb.calls)
		}
	}
	if res.Outcome != OutcomeFailed {
		t.Errorf("outcome %s", res.Outcome)
	}
	var failed []Event
	for _, e := range h.sink.ofType(EventResource) {
		if e.Status == StatusFailed {
			failed = append(failed, e)
		}
	}
	if len(failed) != 1 || !strings.HasSuffix(failed[0].URN, scriptB) {
		t.Errorf("failed steps %+v", failed)
	}
	wantPhases(t, h.sink, "preflight:started", "preflight:done", "open:started", "open:done", "refresh:skipped",
		"preview:started", "preview:done", "cost:skipped", "confirm:skipped", "snapshot:started", "snapshot:done", "up:started", "up:failed")
}

// Verification fails: A (changed) is rolled back, B (unchanged) is left, C
// (new) cannot be; verification runs again and passes; exit 1.
func TestVerifyFailsRollbackReverifyPasses(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: false}, {passed: true}}
	res, err := h.run(t)
	wantCode(t, err, 1, "verification of stack demo failed", "rolled back "+scriptA, "verification passes again",
		scriptC+" (new: it did not exist before this deploy)", "never rolled back")
	if res.Outcome != OutcomeRolledBack || res.Reverified == nil || !*res.Reverified {
		t.Errorf("result %+v", res)
	}
	wantRB := []string{"active " + scriptA, "active " + scriptB, "active " + scriptC, // snapshot
		"active " + scriptA, "rollback " + scriptA + " to a1 (100%)", "active " + scriptB}
	if !slices.Equal(h.rb.calls, wantRB) {
		t.Errorf("rollbacker calls\n got %v\nwant %v", h.rb.calls, wantRB)
	}
	if got := h.rb.state[scriptA].Versions; len(got) != 1 || got[0].VersionID != "a1" {
		t.Errorf("A serves %v", got)
	}
	if len(h.verifier.calls) != 2 {
		t.Errorf("verified %d times", len(h.verifier.calls))
	}
	var decisions []string
	for _, s := range res.Scripts {
		decisions = append(decisions, s.Script+"="+s.Status)
	}
	if want := []string{scriptA + "=rolled_back", scriptB + "=unchanged", scriptC + "=new"}; !slices.Equal(decisions, want) {
		t.Errorf("decisions %v", decisions)
	}
	r := h.sink.result(t)
	if !slices.Equal(r.RolledBack, []string{scriptA}) || !slices.Equal(r.NotRolledBack, []string{scriptC}) {
		t.Errorf("result %+v", r)
	}
	for _, e := range h.sink.ofType(EventScript) {
		if e.Phase == PhaseRollback && e.Script == scriptA && (FormatVersions(e.Versions) != "a1 (100%)" || FormatVersions(e.Deployed) != "a2 (100%)") {
			t.Errorf("rollback event %+v", e)
		}
	}
	wantPhases(t, h.sink, "preflight:started", "preflight:done", "open:started", "open:done", "refresh:skipped",
		"preview:started", "preview:done", "cost:skipped", "confirm:skipped", "snapshot:started", "snapshot:done",
		"up:started", "up:done", "verify:started", "verify:failed", "rollback:started", "rollback:done",
		"reverify:started", "reverify:done")
}

func TestVerifyFailsRollbackReverifyFails(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: false}, {passed: false}}
	res, err := h.run(t)
	wantCode(t, err, 1, "rolled back "+scriptA, "still fails after the rollback")
	if res.Reverified == nil || *res.Reverified || res.Outcome != OutcomeRolledBack {
		t.Errorf("result %+v", res)
	}
}

// A traffic split counts as the versions the Worker served: it is restored
// as it was.
func TestRollbackRestoresASplit(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: false}, {passed: true}}
	h.runner.onUp = func() { h.rb.deploy(scriptB, "b2") }
	res, err := h.run(t)
	wantCode(t, err, 1)
	if !slices.Contains(h.rb.calls, "rollback "+scriptB+" to b1 (90%), b0 (10%)") || !slices.Equal(res.RolledBack(), []string{scriptB}) {
		t.Errorf("calls %v", h.rb.calls)
	}
	// The same split in another order is no change.
	if !sameVersions([]VersionShare{{"x", 90}, {"y", 10}}, []VersionShare{{"y", 10}, {"x", 90}}) ||
		sameVersions([]VersionShare{{"x", 90}, {"y", 10}}, []VersionShare{{"x", 10}, {"y", 90}}) {
		t.Error("sameVersions")
	}
}

func TestRollbackFails(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: false}, {passed: true}}
	h.runner.onUp = func() {
		h.rb.deploy(scriptA, "a2")
		h.rb.deploy(scriptB, "b2")
	}
	h.rb.rollbackErr = map[string]error{scriptA: errors.New("HTTP 403: Authentication error")}
	res, err := h.run(t)
	wantCode(t, err, 1, "FAILED to roll back "+scriptA, "403", "rolled back "+scriptB)
	if res.Outcome != OutcomeRolledBack || len(h.verifier.calls) != 2 {
		t.Errorf("result %+v, %d verifications", res, len(h.verifier.calls))
	}
	if r := h.sink.result(t); !slices.Contains(r.NotRolledBack, scriptA) {
		t.Errorf("result %+v", r)
	}
	if !slices.Contains(h.sink.phases(), "rollback:failed") {
		t.Errorf("phases %v", h.sink.phases())
	}
}

// Nothing could be rolled back: no second verification, outcome verify_failed.
func TestRollbackFailsEverywhere(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: false}}
	h.rb.activeErr = map[string]error{}
	h.runner.onUp = func() {
		h.rb.deploy(scriptA, "a2")
		h.rb.activeErr[scriptA] = errors.New("connection refused")
	}
	res, err := h.run(t)
	wantCode(t, err, 1, "no Worker was rolled back", "FAILED to roll back "+scriptA+" (read its versions after `up`: connection refused)")
	if res.Outcome != OutcomeVerifyFailed || len(h.verifier.calls) != 1 || res.Reverified != nil {
		t.Errorf("result %+v, %d verifications", res, len(h.verifier.calls))
	}
	if !slices.Contains(h.sink.phases(), "reverify:skipped") {
		t.Errorf("phases %v", h.sink.phases())
	}
}

func TestVerifierErrorCountsAsFailure(t *testing.T) {
	h := newHarness()
	h.verifier.verdicts = []verdict{{passed: true, err: errors.New("dial tcp: no route")}, {passed: true}}
	res, err := h.run(t)
	wantCode(t, err, 1, "rolled back "+scriptA)
	if res.Verified == nil || *res.Verified {
		t.Errorf("verified %v", res.Verified)
	}
	v := h.sink.ofType(EventVerify)
	if len(v) != 2 || *v[0].Passed || !strings.Contains(v[0].Message, "could not run: dial tcp") || !*v[1].Passed {
		t.Errorf("verify events %+v", v)
	}
}

func TestNoRollback(t *testing.T) {
	h := newHarness()
	h.cfg.NoRollback = true
	h.verifier.verdicts = []verdict{{passed: false}}
	res, err := h.run(t)
	wantCode(t, err, 1, "nothing was rolled back (--no-rollback)")
	if len(h.rb.calls) != 0 || len(h.rbArgs) != 0 || res.Outcome != OutcomeVerifyFailed {
		t.Errorf("rollbacker used: %v %v, outcome %s", h.rb.calls, h.rbArgs, res.Outcome)
	}
	ph := h.sink.phases()
	if !slices.Contains(ph, "snapshot:skipped") || !slices.Contains(ph, "rollback:skipped") || slices.Contains(ph, "reverify:started") {
		t.Errorf("phases %v", ph)
	}
}

func TestSkipVerify(t *testing.T) {
	h := newHarness()
	h.cfg.SkipVerify = true
	h.cfg.CloudflareToken = "" // not needed: nothing reads the account
	res, err := h.run(t)
	wantCode(t, err, 0)
	if len(h.verifierArgs) != 0 || len(h.rbArgs) != 0 || len(h.verifier.calls) != 0 || len(h.rb.calls) != 0 {
		t.Errorf("verifier or rollbacker used")
	}
	if res.Outcome != OutcomeDeployed || res.Verified != nil {
		t.Errorf("result %+v", res)
	}
	if slices.ContainsFunc(h.runner.calls, func(c string) bool { return strings.HasPrefix(c, "config") }) {
		t.Errorf("read config %v", h.runner.calls)
	}
	if r := h.sink.result(t); !strings.Contains(r.Message, "not verified (--skip-verify)") {
		t.Errorf("result %+v", r)
	}
}

func TestSnapshotFails(t *testing.T) {
	h := newHarness()
	h.rb.activeErr = map[string]error{scriptB: errors.New("HTTP 403: Authentication error")}
	_, err := h.run(t)
	wantCode(t, err, 1, "cannot record the version Worker "+scriptB+" serves", "--no-rollback", "nothing was deployed")
	if slices.Contains(h.runner.calls, "up") {
		t.Error("up ran without a snapshot")
	}
}

func TestCredentialsFromStackConfig(t *testing.T) {
	h := newHarness()
	h.cfg.CloudflareToken = ""
	h.cfg.AuthTokenKey = "zerocost:authToken"
	h.runner.config = map[string]string{CloudflareTokenKey: "from-config", "zerocost:authToken": "bearer"}
	_, err := h.run(t)
	wantCode(t, err, 0)
	want := Credentials{CloudflareToken: "from-config", AuthToken: "bearer"}
	if len(h.verifierArgs) != 1 || h.verifierArgs[0] != want || h.rbArgs[0] != want {
		t.Errorf("credentials %v %v", h.verifierArgs, h.rbArgs)
	}
}

func TestAuthTokenGivenIsNotRead(t *testing.T) {
	h := newHarness()
	h.cfg.AuthToken, h.cfg.AuthTokenKey = "from-env", "zerocost:authToken"
	_, err := h.run(t)
	wantCode(t, err, 0)
	if h.verifierArgs[0].AuthToken != "from-env" || slices.Contains(h.runner.calls, "config zerocost:authToken") {
		t.Errorf("credentials %v, calls %v", h.verifierArgs, h.runner.calls)
	}
}

func TestMissingAuthToken(t *testing.T) {
	h := newHarness()
	h.cfg.AuthTokenKey = "zerocost:authToken"
	_, err := h.run(t)
	wantCode(t, err, 2, "zerocost:authToken but it has no value")
}

func TestMissingCloudflareToken(t *testing.T) {
	h := newHarness()
	h.cfg.CloudflareToken = ""
	_, err := h.run(t)
	wantCode(t, err, 2, "CLOUDFLARE_API_TOKEN", "pulumi config set --secret cloudflare:apiToken")
	if slices.Contains(h.runner.calls, "preview") {
		t.Error("previewed without a token")
	}
}

func TestNoChanges(t *testing.T) {
	for _, pass := range []bool{true, false} {
		t.Run(fmt.Sprint("verify passes ", pass), func(t *testing.T) {
			h := newHarness()
			h.cfg.Yes, h.cfg.Interactive = false, true
			h.runner.preview = Changes{"same": 8}
			h.runner.current = deployed
			h.verifier.verdicts = []verdict{{passed: pass}}
			res, err := h.run(t)
			if pass {
				wantCode(t, err, 0)
				if res.Outcome != OutcomeUnchanged {
					t.Errorf("outcome %s", res.Outcome)
				}
			} else {
				wantCode(t, err, 1, "no changes to deploy, but its verification failed")
				if res.Outcome != OutcomeVerifyFailed {
					t.Errorf("outcome %s", res.Outcome)
				}
			}
			if len(h.questions) != 0 || slices.Contains(h.runner.calls, "up") || len(h.rb.calls) != 0 {
				t.Errorf("asked %v, runner %v, rollbacker %v", h.questions, h.runner.calls, h.rb.calls)
			}
			if len(h.verifier.calls) != 1 || h.verifier.calls[0]["sales-engine"].URL != "https://a.example" {
				t.Errorf("verified %v, want the current outputs", h.verifier.calls)
			}
		})
	}
}

type fakeForecast struct {
	before, after []string
	err           error
}

func (f *fakeForecast) Forecast(_ context.Context, before, after []string) (*CostDelta, error) {
	f.before, f.after = before, after
	if f.err != nil {
		return nil, f.err
	}
	return &CostDelta{Source: "usage.toml", Plan: "free", BeforeUSD: 1, AfterUSD: 3.5, DeltaUSD: 2.5}, nil
}

func TestCostForecast(t *testing.T) {
	h := newHarness()
	f := &fakeForecast{}
	h.forecast = f
	h.runner.current = deployed
	_, err := h.run(t)
	wantCode(t, err, 0)
	if !slices.Equal(f.before, []string{"sales-engine"}) || len(f.after) != 3 {
		t.Errorf("forecast before %v after %v", f.before, f.after)
	}
	c := h.sink.ofType(EventCost)
	if len(c) != 1 || c[0].Cost.DeltaUSD != 2.5 {
		t.Fatalf("cost events %+v", c)
	}
	if got := c[0].Cost.String(); got != "cost forecast (usage.toml, Workers free): $1.00 -> $3.50 a month (+2.50)" {
		t.Errorf("cost text %q", got)
	}
	// Cost comes between the preview and the confirmation.
	ph := h.sink.phases()
	if i, j := slices.Index(ph, "cost:done"), slices.Index(ph, "confirm:skipped"); i < 0 || i > j {
		t.Errorf("phases %v", ph)
	}
}

func TestCostForecastFailureDoesNotStopTheDeploy(t *testing.T) {
	h := newHarness()
	h.forecast = &fakeForecast{err: errors.New("usage.toml: product[0].requests: missing")}
	_, err := h.run(t)
	wantCode(t, err, 0)
	if !slices.Contains(h.sink.phases(), "cost:failed") || len(h.sink.ofType(EventCost)) != 0 {
		t.Errorf("phases %v", h.sink.phases())
	}
}
