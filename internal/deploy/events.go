package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event types: the "type" of a JSON event (docs/ci.md, "Events").
const (
	// EventPhase: a phase started, finished, failed or was skipped.
	EventPhase = "phase"
	// EventResource: the engine finished (or failed) one resource step of `up`.
	EventResource = "resource"
	// EventDiagnostic: the engine reported an error or a warning.
	EventDiagnostic = "diagnostic"
	// EventChanges: the resource counts of a refresh, preview or up, by operation.
	EventChanges = "changes"
	// EventCost: the monthly cost forecast before and after the deploy.
	EventCost = "cost"
	// EventScript: a Worker's active versions, recorded before `up` (phase
	// snapshot) or what the rollback did with it (phase rollback).
	EventScript = "script"
	// EventCheck: one verification check finished.
	EventCheck = "check"
	// EventVerify: a verification run's outcome.
	EventVerify = "verify"
	// EventResult: the last event: the deploy's outcome and exit code.
	EventResult = "result"
)

// Phases, in the order a deploy runs them.
const (
	PhasePreflight = "preflight"
	PhaseOpen      = "open"
	PhaseRefresh   = "refresh"
	PhasePreview   = "preview"
	PhaseCost      = "cost"
	PhaseConfirm   = "confirm"
	PhaseSnapshot  = "snapshot"
	PhaseUp        = "up"
	PhaseVerify    = "verify"
	PhaseRollback  = "rollback"
	PhaseReverify  = "reverify"
)

// Statuses of phase, resource and check events.
const (
	StatusStarted = "started"
	StatusDone    = "done"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
	StatusPass    = "pass"
	StatusFail    = "fail"
)

// Statuses of script events.
const (
	// ScriptRecorded: the Worker's active versions before `up` (snapshot).
	ScriptRecorded = "recorded"
	// ScriptNew: the Worker did not exist before `up`: nothing to roll back to.
	ScriptNew = "new"
	// ScriptNoVersion: the Worker existed but had no deployment to return to.
	ScriptNoVersion = "no_version"
	// ScriptUnchanged: `up` left the Worker's active versions as they were.
	ScriptUnchanged = "unchanged"
	// ScriptRolledBack: the Worker serves its versions from before `up` again.
	ScriptRolledBack = "rolled_back"
	// ScriptFailed: reading or rolling back the Worker failed (see error).
	ScriptFailed = "failed"
)

// Outcomes of the result event.
const (
	// OutcomeDeployed: `up` ran and verification passed or was skipped.
	OutcomeDeployed = "deployed"
	// OutcomeUnchanged: the preview found nothing to change; verification
	// passed or was skipped.
	OutcomeUnchanged = "unchanged"
	// OutcomeDeclined: the user answered no; nothing was changed.
	OutcomeDeclined = "declined"
	// OutcomeFailed: a phase up to and including `up` failed.
	OutcomeFailed = "failed"
	// OutcomeVerifyFailed: verification failed and nothing was rolled back.
	OutcomeVerifyFailed = "verify_failed"
	// OutcomeRolledBack: verification failed and at least one Worker was
	// rolled back.
	OutcomeRolledBack = "rolled_back"
)

// Event is one line of `zerocost deploy --json`. Fields that do not apply to
// an event's type are left out.
type Event struct {
	// Time is when the event happened (RFC 3339, UTC).
	Time    string `json:"time"`
	Type    string `json:"type"`
	Phase   string `json:"phase,omitempty"`
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`

	// resource
	Op           string `json:"op,omitempty"`
	URN          string `json:"urn,omitempty"`
	ResourceType string `json:"resource_type,omitempty"`
	// resource and check: how many are done, of how many expected.
	Done  int `json:"done,omitempty"`
	Total int `json:"total,omitempty"`

	// diagnostic: "error" or "warning".
	Severity string `json:"severity,omitempty"`

	// changes: counts by operation (create, update, replace, delete, same, ...).
	Changes map[string]int `json:"changes,omitempty"`

	// cost
	Cost *CostDelta `json:"cost,omitempty"`

	// script: the Worker; Versions are its versions before `up` (the ones a
	// rollback restores); Deployed are the ones `up` left active.
	Script   string         `json:"script,omitempty"`
	Versions []VersionShare `json:"versions,omitempty"`
	Deployed []VersionShare `json:"deployed,omitempty"`

	// check and verify
	Product string `json:"product,omitempty"`
	Check   string `json:"check,omitempty"`
	Passed  *bool  `json:"passed,omitempty"`
	Report  any    `json:"report,omitempty"`

	// result
	Outcome       string   `json:"outcome,omitempty"`
	ExitCode      *int     `json:"exit_code,omitempty"`
	RolledBack    []string `json:"rolled_back,omitempty"`
	NotRolledBack []string `json:"not_rolled_back,omitempty"`
}

// Sink receives a deploy's events, one call at a time.
type Sink interface {
	Emit(Event)
}

// JSONSink writes one JSON object per line.
type JSONSink struct {
	W   io.Writer
	Now func() time.Time

	mu sync.Mutex
}

// Emit writes the event.
func (s *JSONSink) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamp(&e, s.Now)
	b, err := json.Marshal(e)
	if err != nil {
		// A report that does not marshal must not lose the event.
		e.Report = nil
		b, _ = json.Marshal(e)
	}
	_, _ = s.W.Write(append(b, '\n'))
}

func stamp(e *Event, now func() time.Time) {
	if e.Time != "" {
		return
	}
	if now == nil {
		now = time.Now
	}
	e.Time = now().UTC().Format(time.RFC3339)
}

// TextSink writes progress for people. A failed deploy's reason is the
// command's error, which the CLI prints; the sink prints the events that led
// there.
type TextSink struct {
	W io.Writer

	mu sync.Mutex
}

// Summarizer is what a verification report may implement for TextSink.
type Summarizer interface {
	Summary() string
}

// Emit writes the event as one or more lines.
func (s *TextSink) Emit(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := textLine(e)
	if line != "" {
		fmt.Fprintln(s.W, line)
	}
}

func textLine(e Event) string {
	switch e.Type {
	case EventPhase:
		switch e.Status {
		case StatusStarted:
			if e.Message != "" {
				return "==> " + e.Phase + ": " + e.Message
			}
			return "==> " + e.Phase
		case StatusDone:
			if e.Message != "" {
				return "    " + e.Message
			}
		case StatusSkipped:
			return "--- " + e.Phase + " skipped: " + e.Message
		case StatusFailed:
			return "    " + e.Phase + " failed: " + firstLine(e.Error)
		}
	case EventResource:
		name := shortURN(e.URN)
		if e.Status == StatusFailed {
			return fmt.Sprintf("    failed %s %s", e.Op, name)
		}
		return fmt.Sprintf("    [%d/%d] %s %s", e.Done, e.Total, e.Op, name)
	case EventDiagnostic:
		return "    " + e.Severity + ": " + strings.TrimSpace(e.Message)
	case EventChanges:
		return "    " + FormatChanges(e.Changes)
	case EventCost:
		return "    " + e.Cost.String()
	case EventScript:
		return "    " + e.Script + ": " + scriptText(e)
	case EventCheck:
		if e.Status == StatusFail {
			return fmt.Sprintf("    [%d/%d] FAIL %s %s: %s", e.Done, e.Total, e.Product, e.Check, firstLine(e.Message))
		}
		return fmt.Sprintf("    [%d/%d] pass %s %s", e.Done, e.Total, e.Product, e.Check)
	case EventVerify:
		verdict := "failed"
		if e.Passed != nil && *e.Passed {
			verdict = "passed"
		}
		text := "    verification " + verdict
		if sm, ok := e.Report.(Summarizer); ok && sm.Summary() != "" {
			text += ": " + sm.Summary()
		} else if e.Message != "" {
			text += ": " + e.Message
		}
		return text
	case EventResult:
		if e.ExitCode != nil && *e.ExitCode == 0 {
			return e.Message
		}
	}
	return ""
}

func scriptText(e Event) string {
	switch e.Status {
	case ScriptRecorded:
		return "active " + FormatVersions(e.Versions)
	case ScriptNew:
		return "new Worker (did not exist before this deploy: nothing to roll back to)"
	case ScriptNoVersion:
		return "no deployment before this deploy: nothing to roll back to"
	case ScriptUnchanged:
		return "unchanged by this deploy"
	case ScriptRolledBack:
		return "rolled back to " + FormatVersions(e.Versions) + " (was " + FormatVersions(e.Deployed) + ")"
	case ScriptFailed:
		return "FAILED: " + firstLine(e.Error)
	}
	return e.Status
}

// FormatVersions writes versions as "id (100%)" or "id (90%), id (10%)".
func FormatVersions(vs []VersionShare) string {
	if len(vs) == 0 {
		return "none"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%s (%g%%)", v.VersionID, v.Percentage)
	}
	return strings.Join(parts, ", ")
}

// opOrder is the order FormatChanges lists operations in.
var opOrder = map[string]int{"create": 0, "update": 1, "replace": 2, "delete": 3}

// FormatChanges writes resource counts as "2 to create, 1 to update, 10 unchanged".
func FormatChanges(c Changes) string {
	var ops []string
	for op, n := range c {
		if n > 0 && !unchangedOp(op) {
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		oi, iok := opOrder[ops[i]]
		oj, jok := opOrder[ops[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return ops[i] < ops[j]
	})
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%d to %s", c[op], op))
	}
	if n := c.Unchanged(); n > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", n))
	}
	return strings.Join(parts, ", ")
}

// shortURN is a URN's type and name: "cloudflare:index/workersScript:WorkersScript::a-demo"
// becomes "WorkersScript a-demo".
func shortURN(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	typ := parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	if i := strings.LastIndex(typ, ":"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ + " " + parts[3]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
