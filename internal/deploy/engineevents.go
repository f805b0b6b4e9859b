package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"
)

// The few fields of Pulumi's engine events that deploy reads. The `pulumi`
// CLI writes one event per line, as JSON, to the file named by --event-log
// (a hidden flag, accepted when PULUMI_DEBUG_COMMANDS=true). The names are
// those of apitype.EngineEvent in github.com/pulumi/pulumi/sdk/v3
// (sdk/go/common/apitype/events.go); that package is not imported because it
// pulls gRPC and OpenTelemetry into the CLI. Fields not named here are
// skipped by the decoder.
type engineEvent struct {
	Sequence int `json:"sequence"`
	// CancelEvent is the last event of a run, whether it succeeded or not.
	CancelEvent      *struct{}        `json:"cancelEvent"`
	DiagnosticEvent  *diagnosticEvent `json:"diagnosticEvent"`
	SummaryEvent     *summaryEvent    `json:"summaryEvent"`
	ResOutputsEvent  *stepEvent       `json:"resOutputsEvent"`
	ResOpFailedEvent *stepEvent       `json:"resOpFailedEvent"`
}

// diagnosticEvent is apitype.DiagnosticEvent: severity is "error",
// "warning", "info" or "info#err"; urn is empty for the stack's own messages.
type diagnosticEvent struct {
	URN      string `json:"urn"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// summaryEvent is apitype.SummaryEvent: the run's resource counts by
// operation ("create", "update", "same", ...).
type summaryEvent struct {
	ResourceChanges map[string]int `json:"resourceChanges"`
}

// stepEvent is apitype.ResOutputsEvent (a step finished) or
// apitype.ResOpFailedEvent (a step failed); only its metadata
// (apitype.StepEventMetadata) is read.
type stepEvent struct {
	Metadata struct {
		Op   string `json:"op"`
		URN  string `json:"urn"`
		Type string `json:"type"`
	} `json:"metadata"`
}

// colorTag is a Pulumi colour directive, e.g. "<{%fg 1%}>" or "<{%reset%}>".
// deploy asks for --color never, so none should come; a message that has
// them anyway is cleaned.
var colorTag = regexp.MustCompile(`<\{%[^%]*%\}>`)

// engineLog is what one command's event log said.
type engineLog struct {
	// Summary is the summary event's counts; nil when there was none.
	Summary Changes
	// Events is how many events were decoded; Skipped how many lines were not
	// JSON events.
	Events, Skipped int
	// Ended is true when the log ended with the engine's cancelEvent.
	Ended bool
}

// add decodes one line of the log and forwards it to p.
func (l *engineLog) add(line []byte, p Progress) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var e engineEvent
	if err := json.Unmarshal(line, &e); err != nil {
		l.Skipped++
		return
	}
	l.Events++
	switch {
	case e.ResOutputsEvent != nil:
		m := e.ResOutputsEvent.Metadata
		p.Step(Step{Op: m.Op, URN: m.URN, Type: m.Type})
	case e.ResOpFailedEvent != nil:
		m := e.ResOpFailedEvent.Metadata
		p.Step(Step{Op: m.Op, URN: m.URN, Type: m.Type, Failed: true})
	case e.DiagnosticEvent != nil:
		g := e.DiagnosticEvent
		p.Diagnostic(Diagnostic{Severity: g.Severity, URN: g.URN, Message: strings.TrimSpace(colorTag.ReplaceAllString(g.Message, ""))})
	case e.SummaryEvent != nil:
		c := Changes{}
		for op, n := range e.SummaryEvent.ResourceChanges {
			c[op] = n
		}
		l.Summary = c
	case e.CancelEvent != nil:
		l.Ended = true
	}
}

// tailInterval is how often a running command's event log is read for new
// lines.
const tailInterval = 50 * time.Millisecond

// startTail runs tailEngineLog in the background; the function it returns
// waits for it (after exited is closed) and returns what it read.
func startTail(path string, p Progress, exited <-chan struct{}) func() (*engineLog, error) {
	type tailed struct {
		log *engineLog
		err error
	}
	done := make(chan tailed, 1)
	go func() {
		l, err := tailEngineLog(path, p, exited)
		done <- tailed{l, err}
	}()
	return func() (*engineLog, error) {
		t := <-done
		return t.log, t.err
	}
}

// tailEngineLog follows the event log at path while the command that writes
// it runs, forwarding each complete line to p as it appears, until exited is
// closed; then it reads what is left and returns. The file need not exist
// yet (the CLI creates it when the engine starts; a command that fails
// before, such as one that finds the stack locked, never does).
func tailEngineLog(path string, p Progress, exited <-chan struct{}) (*engineLog, error) {
	l := &engineLog{}
	var (
		f       *os.File
		pending []byte
		buf     = make([]byte, 64<<10)
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	tick := time.NewTicker(tailInterval)
	defer tick.Stop()
	for {
		// Whether the command had ended is read before the file, so that
		// the last pass sees everything it wrote.
		last := false
		select {
		case <-exited:
			last = true
		default:
		}
		if f == nil {
			var err error
			f, err = os.Open(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return l, err
			}
		}
		if f != nil {
			for {
				n, err := f.Read(buf)
				pending = append(pending, buf[:n]...)
				if err == io.EOF {
					break
				}
				if err != nil {
					return l, err
				}
				if n == 0 {
					break
				}
			}
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				l.add(pending[:i], p)
				pending = pending[i+1:]
			}
		}
		if last {
			l.add(pending, p) // a last line without a newline
			return l, nil
		}
		select {
		case <-exited:
		case <-tick.C:
		}
	}
}
