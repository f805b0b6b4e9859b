package report

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/cost/analytics/analyticstest"
	"github.com/zerocost/zerocost/internal/outputs"
)

// reader stands in for the pulumi CLI.
type reader struct {
	err   error
	stack string
}

func (r *reader) Outputs(_ context.Context, _, stack string) (outputs.Stack, error) {
	r.stack = stack
	if r.err != nil {
		return nil, r.err
	}
	return outputs.ReadFile("../../../cost/analytics/testdata/demo-outputs.json")
}

// Without --outputs, the report asks the pulumi CLI for the outputs.
func TestReportReadsOutputsWithPulumi(t *testing.T) {
	f := analyticstest.New(t, "0123456789abcdef0123456789abcdef", "tok")
	f.Rows[analytics.WorkersDataset] = []analyticstest.Row{{At: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC),
		Sum: map[string]float64{"requests": 1000}, Dimensions: map[string]string{"scriptName": "ai-relay-demo", "date": "2026-11-02"}}}
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: f.URL}
	for _, c := range []struct {
		r    *reader
		want string
	}{
		{&reader{}, ""},
		{&reader{err: outputs.ErrNoPulumi}, "the pulumi CLI is not on PATH: give --outputs FILE (pulumi stack output --json --stack demo > outputs.json)"},
	} {
		io, out, _ := cmdutil.Test()
		fac := &cmdutil.Factory{IO: io, ProjectDir: "../../../..", HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(k string) string { return env[k] }}
		cmd := NewCmd(fac, func(o *Options) error { o.OutputsReader = c.r; return Run(o) })
		err := cmdtest.Execute(cmd, io, "--stack", "demo", "--since", "2026-11-01", "--until", "2026-11-30")
		if c.want == "" {
			if err != nil || c.r.stack != "demo" || !strings.Contains(out.String(), "Report for stack demo") {
				t.Errorf("pulumi outputs: %v, stack %q\n%s", err, c.r.stack, out.String())
			}
			continue
		}
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

// The report runs on the command's context: cancelling it (as Ctrl-C does)
// stops the API call in flight.
func TestReportStopsWithItsContext(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // the server sees the client go only once the body is read
		close(arrived)
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: srv.URL}
	streams, _, _ := cmdutil.Test()
	fac := &cmdutil.Factory{IO: streams, ProjectDir: "../../../..", HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(k string) string { return env[k] }}
	cmd := NewCmd(fac, func(o *Options) error { o.OutputsReader = &reader{}; return Run(o) })
	cmd.SetArgs([]string{"--stack", "demo", "--since", "2026-11-01", "--until", "2026-11-30"})
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	cmd.SilenceUsage = true
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("the report ended before calling the API: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "workersInvocationsAdaptive: context canceled") {
			t.Errorf("got %v, want the call cancelled", err)
		}
	case <-time.After(30 * time.Second): // a deadline: a report on context.Background() never ends
		t.Fatal("the report did not stop when its context was cancelled")
	}
}
