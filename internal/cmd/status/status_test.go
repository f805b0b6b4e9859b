package status

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zerocost/zerocost/internal/cmd/cost/shared"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/cmdutil/cmdtest"
	"github.com/zerocost/zerocost/internal/cost/analytics"
	"github.com/zerocost/zerocost/internal/cost/analytics/analyticstest"
	"github.com/zerocost/zerocost/internal/outputs"
)

const (
	projectDir  = "../../.."
	demoOutputs = "../../cost/analytics/testdata/demo-outputs.json"
	account     = "0123456789abcdef0123456789abcdef" // Pulumi.demo.yaml's
)

// hook is an alert webhook that keeps what it receives.
type hook struct {
	mu    sync.Mutex
	texts []string
	url   string
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct{ Text string }
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &a); err != nil || r.Method != http.MethodPost {
			t.Errorf("webhook got %s %s", r.Method, body)
		}
		h.mu.Lock()
		h.texts = append(h.texts, a.Text)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hook/secret-token"
	return h
}

func run(t *testing.T, env map[string]string, now time.Time, reader outputs.Reader, args ...string) (string, string, error) {
	t.Helper()
	io, out, errOut := cmdutil.Test()
	f := &cmdutil.Factory{IO: io, ProjectDir: projectDir, HTTPClient: func() *http.Client { return http.DefaultClient }, Getenv: func(k string) string { return env[k] }}
	cmd := NewCmd(f, func(o *Options) error {
		o.Now = func() time.Time { return now }
		o.OutputsReader = reader
		return Run(o)
	})
	err := cmdtest.Execute(cmd, io, args...)
	return out.String(), errOut.String(), err
}

func seedDay(f *analyticstest.Fake) {
	// The relay serves 6,000 requests an hour from 00:30 UTC: 80% of
	// 100,000 passes with the row at 13:30.
	for h := 0; h < 24; h++ {
		f.Rows[analytics.WorkersDataset] = append(f.Rows[analytics.WorkersDataset], analyticstest.Row{
			At:         time.Date(2026, 12, 7, h, 30, 0, 0, time.UTC),
			Sum:        map[string]float64{"requests": 6000},
			Dimensions: map[string]string{"scriptName": "ai-relay-demo"},
		})
	}
	f.Rows[analytics.QueueOpsDataset] = []analyticstest.Row{{At: time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC),
		Sum: map[string]float64{"billableOperations": 300}, Dimensions: map[string]string{"queueId": "q-email"}}}
}

// pulumiOutputs reads the demo outputs as the pulumi CLI would print them.
type pulumiOutputs struct{}

func (pulumiOutputs) Outputs(context.Context, string, string) (outputs.Stack, error) {
	return outputs.ReadFile(demoOutputs)
}

func TestStatusAlertsOncePerCrossing(t *testing.T) {
	f := analyticstest.New(t, account, "tok")
	seedDay(f)
	h := newHook(t)
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: f.URL, EnvWebhook: h.url}
	var outs []string
	for hour := 1; hour <= 23; hour++ {
		now := time.Date(2026, 12, 7, hour, 0, 0, 0, time.UTC)
		out, errOut, err := run(t, env, now, pulumiOutputs{}, "--stack", "demo", "--threshold", "80")
		if err != nil {
			t.Fatalf("%s: %v\n%s", now, err, errOut)
		}
		if strings.Contains(out+errOut, "secret-token") {
			t.Fatalf("the webhook URL was printed:\n%s%s", out, errOut)
		}
		outs = append(outs, out)
	}
	if len(h.texts) != 1 || !strings.Contains(h.texts[0], "passed 80% of Workers Free limits: Workers requests on 2026-12-07 (now 84% of 100,000/day)") {
		t.Errorf("webhook got %q, want one alert", h.texts)
	}
	// The 12:00 run shows each limit, the stack's share, and when it runs out.
	for _, want := range []string{"Free-tier use of account " + account + ", 2026-12-07 12:00 UTC (stack demo)",
		"Workers requests (today)", "72,000", "~16:40 UTC", "Queues operations (today)", "300", "10,000/day",
		"D1 rows read (today)", "KV reads (today)", "Analytics Engine data points (today)", "R2 Class A operations (month to date)", "R2 storage (stored now)"} {
		if !strings.Contains(outs[11], want) {
			t.Errorf("12:00 lacks %q:\n%s", want, outs[11])
		}
	}
}

func TestStatusFailedAPIIsUnknown(t *testing.T) {
	f := analyticstest.New(t, account, "tok")
	seedDay(f)
	f.Fail[analytics.QueueOpsDataset] = http.StatusBadRequest
	env := map[string]string{shared.EnvAPIToken: "tok", shared.EnvAPIURL: f.URL}
	out, _, err := run(t, env, time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), nil, "--stack", "demo", "--outputs", demoOutputs)
	if cmdutil.ExitCode(err) != cmdutil.ExitFailed || !strings.Contains(err.Error(), "could not be read") {
		t.Errorf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	if !strings.Contains(out, "Queues operations: account unknown: queueMessageOperationsAdaptiveGroups: Cloudflare answered HTTP 400") {
		t.Errorf("output:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Queues operations (today)") && !strings.Contains(line, "unknown") {
			t.Errorf("a failed read shows a number: %q", line)
		}
	}
}

func TestStatusFlags(t *testing.T) {
	o, err := cmdtest.Parse(NewCmd, "--stack", "prod", "--every", "30m", "--format", "json")
	if err != nil || o.Stack != "prod" || o.Every != 30*time.Minute || o.Settle != DefaultSettle || o.Threshold != 0 || o.Format != "json" {
		t.Errorf("options %+v %v", o, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--threshold", "80"}, "--threshold needs the webhook URL in $" + EnvWebhook},
		{[]string{"--threshold", "120"}, "--threshold 120"},
		{[]string{"--every", "10s"}, "--every 10s"},
		{[]string{"--format", "markdown"}, `--format "markdown"`},
		{[]string{"--webhook", "https://x"}, "unknown flag: --webhook"},
	} {
		_, err := cmdtest.Parse(NewCmd, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
