package devrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cron triggers in dev. The runner starts Miniflare with
// unsafeTriggerHandlers, so its entry socket (State.EntryURL, on 127.0.0.1
// only) answers GET /cdn-cgi/local/scheduled?cron=C&time=MS&format=json by
// running the scheduled() handler of the Worker that the MF-Route-Override
// header names, exactly as a cron trigger would (controller.cron,
// controller.scheduledTime), and returns {"outcome":"ok"} or another
// outcome with a 500. Both the schedule (Options.FireCrons) and the on-demand
// trigger (TriggerCron, `zerocost dev --trigger-cron`) go through it.

// ScheduledPath is Miniflare's route that runs a Worker's scheduled handler.
const ScheduledPath = "/cdn-cgi/local/scheduled"

// routeOverrideHeader names the Worker (script name) a request to the entry
// socket goes to.
const routeOverrideHeader = "MF-Route-Override"

// CronResult is one run of a product's scheduled handler.
type CronResult struct {
	Product string `json:"product"`
	Cron    string `json:"cron"`
	// ScheduledTime is controller.scheduledTime.
	ScheduledTime time.Time `json:"scheduled_time"`
	// Outcome is workerd's: "ok", "exception", "exceededCpu", ... or, when
	// the answer was not JSON, its first line.
	Outcome string        `json:"outcome"`
	Took    time.Duration `json:"-"`
	TookMs  int64         `json:"took_ms"`
}

// OK reports whether the handler returned without an error.
func (r CronResult) OK() bool { return r.Outcome == "ok" }

// CronsFailed is nil when every run of product's scheduled handler returned
// ok, else an error naming the first outcome that was not.
func CronsFailed(product string, rs []CronResult) error {
	for _, r := range rs {
		if !r.OK() {
			return fmt.Errorf("%s: the scheduled handler failed (%s)", product, r.Outcome)
		}
	}
	return nil
}

func (r CronResult) String() string {
	return fmt.Sprintf("%s: cron %q (scheduled %s): %s in %s", r.Product, r.Cron,
		r.ScheduledTime.UTC().Format(time.RFC3339), r.Outcome, r.Took.Round(time.Millisecond))
}

var cronClient = &http.Client{}

// fireScheduled runs script's scheduled handler through the entry socket.
func fireScheduled(ctx context.Context, entryURL, product, script, cron string, at time.Time) (CronResult, error) {
	res := CronResult{Product: product, Cron: cron, ScheduledTime: at.UTC()}
	q := url.Values{"cron": {cron}, "time": {strconv.FormatInt(at.UnixMilli(), 10)}, "format": {"json"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(entryURL, "/")+ScheduledPath+"?"+q.Encode(), nil)
	if err != nil {
		return res, err
	}
	req.Header.Set(routeOverrideHeader, script)
	began := time.Now()
	resp, err := cronClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("%s: running the scheduled handler for cron %q: %w", product, cron, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res.Took = time.Since(began)
	res.TookMs = res.Took.Milliseconds()
	var out struct {
		Outcome string `json:"outcome"`
	}
	if json.Unmarshal(body, &out) == nil && out.Outcome != "" {
		res.Outcome = out.Outcome
		return res, nil
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if line == "" {
		line = resp.Status
	}
	res.Outcome = line
	if resp.StatusCode/100 == 2 {
		return res, fmt.Errorf("%s: the scheduled handler's answer is not Miniflare's: %d %q", product, resp.StatusCode, line)
	}
	return res, nil
}

// TriggerCron runs the product's scheduled handler now, once for each of its
// crons, or only for cron when it is not "". It needs no schedule: this is
// what `zerocost dev --trigger-cron` does against a running dev. A handler
// that fails is a result whose OK is false, not an error; a product or cron
// that is not there is a UsageError.
func (s *State) TriggerCron(ctx context.Context, product, cron string) ([]CronResult, error) {
	p := s.Product(product)
	if p == nil {
		var names []string
		for _, q := range s.Products {
			names = append(names, q.Name)
		}
		return nil, usage(fmt.Errorf("stack %s has no product %q (it has %s)", s.Stack, product, strings.Join(names, ", ")))
	}
	if s.EntryURL == "" || p.Script == "" {
		return nil, usage(fmt.Errorf("the running dev of stack %s does not say how to reach its scheduled handlers (an older zerocost dev?): restart it", s.Stack))
	}
	if len(p.Crons) == 0 {
		return nil, usage(fmt.Errorf("product %s has no cron triggers (set crons in Pulumi.%s.yaml, or settings.modelMode: batch for an async pipeline)", product, s.Stack))
	}
	crons := p.Crons
	if cron != "" {
		if !slices.Contains(p.Crons, cron) {
			return nil, usage(fmt.Errorf("product %s has no cron %q (it has %q)", product, cron, p.Crons))
		}
		crons = []string{cron}
	}
	now := time.Now()
	var out []CronResult
	for _, c := range crons {
		r, err := fireScheduled(ctx, s.EntryURL, p.Name, p.Script, c, now)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// TriggerCron runs a product's scheduled handler now (State.TriggerCron).
func (rt *Runtime) TriggerCron(ctx context.Context, product, cron string) ([]CronResult, error) {
	st := rt.State()
	return st.TriggerCron(ctx, product, cron)
}
