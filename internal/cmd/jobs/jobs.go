// Package jobs is `zerocost jobs`: it lists an async-pipeline product's
// parked jobs and resumes them, through the Worker's admin routes
// (GET /admin/jobs, POST /admin/jobs/resume; workers-src/README.md, "Spend
// guard"). A job is parked when the product's monthly model budget is spent:
// its input is kept durably instead of waiting in a queue that forgets after
// 24 hours, and `resume` re-queues it once the budget allows.
package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/zerocost/zerocost/internal/cmd/verify"
	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/devrun"
	"github.com/zerocost/zerocost/internal/outputs"
	"github.com/zerocost/zerocost/internal/stack"
)

// EnvAuthToken holds the stack's zerocost:authToken: the admin routes need it.
const EnvAuthToken = verify.EnvAuthToken

// StatusParked is the status of a job parked by the spend guard.
const StatusParked = "budget_exhausted"

// Options are the inputs of both subcommands.
type Options struct {
	F           *cmdutil.Factory
	Command     string // "list" or "resume"
	Stack       string
	Product     string
	Local       bool
	OutputsFile string
	Status      string
	Limit       int
	JSON        bool

	Context context.Context
	// Test hooks (no flags): StateFile is the dev state file (default
	// <project>/.zerocost/dev/<stack>.json); Outputs reads a deployed
	// stack's outputs when --outputs is not given (default: the pulumi CLI).
	StateFile string
	Outputs   verify.OutputsSource
}

// NewCmd returns `zerocost jobs` and its subcommands; runF replaces the run
// of both in tests of flag parsing.
func NewCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List and resume an async-pipeline product's parked jobs",
		Long: `When an async-pipeline product's monthly model budget is spent
(settings.monthlyBudgetUsd, or the stack's zerocost:monthlyBudgetUsd), its queue
consumer parks each job instead of calling the model: the job's status reads
budget_exhausted and its input is kept in the stack's spend database, not in the
queue (which forgets after 24 hours). Nothing is lost and nothing is dead-lettered.

  list    the product's parked jobs
  resume  re-queue them, once the budget allows (a new month, or a raised budget
          deployed with pulumi up)

Both call the Worker's admin routes, which need the stack's zerocost:authToken:
set ZEROCOST_AUTH_TOKEN to it. With --local they call the stack's running
` + "`zerocost dev`" + `; otherwise the deployed Worker (its URL from --outputs, the pulumi
CLI, or the plan).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newListCmd(f, runF), newResumeCmd(f, runF))
	return cmd
}

func addCommon(cmd *cobra.Command, o *Options) {
	o.F.AddStackFlag(cmd, &o.Stack, cmdutil.LocalWhen(&o.Local))
	fl := cmd.Flags()
	fl.StringVar(&o.Product, "product", "", "the async-pipeline product (required)")
	fl.BoolVar(&o.Local, "local", false, "call the stack's running zerocost dev")
	fl.StringVar(&o.OutputsFile, "outputs", "", "`FILE` of pulumi stack output --json for the deployed stack (default: ask the pulumi CLI)")
}

func (o *Options) check() error {
	var errs []error
	if o.Product == "" {
		errs = append(errs, errors.New("--product is required: the async-pipeline product whose jobs to "+o.Command))
	}
	if o.Local && o.OutputsFile != "" {
		errs = append(errs, errors.New("--local and --outputs exclude each other: --outputs names a deployed stack's outputs"))
	}
	if o.Limit < 0 {
		errs = append(errs, fmt.Errorf("--limit %d must be 0 (no limit) or more", o.Limit))
	}
	return errors.Join(errs...)
}

func newListCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{F: f, Command: "list"}
	cmd := &cobra.Command{
		Use:   "list --product NAME",
		Short: "List a product's parked jobs (status budget_exhausted)",
		Example: `  ZEROCOST_AUTH_TOKEN=... zerocost jobs list --stack prod --product email-worker
  zerocost jobs list --local --product email-worker --json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.check, runF, Run),
	}
	addCommon(cmd, o)
	cmd.Flags().StringVar(&o.Status, "status", StatusParked, "the status to list (the Worker lists parked jobs: budget_exhausted)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "list at most this many (0: all)")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the jobs as JSON")
	return cmd
}

func newResumeCmd(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{F: f, Command: "resume"}
	cmd := &cobra.Command{
		Use:   "resume --product NAME",
		Short: "Re-queue a product's parked jobs once its budget allows",
		Long: `Re-queue a product's parked jobs: each goes back on the product's queue, its
status reads queued again, and the consumer runs it under the product's usual
retry policy. While the budget is still spent the Worker refuses (exit 1) and
says when it resets; raise settings.monthlyBudgetUsd and run pulumi up first, or
wait for the month to end.`,
		Example: `  ZEROCOST_AUTH_TOKEN=... zerocost jobs resume --stack prod --product email-worker
  zerocost jobs resume --local --product email-worker --limit 100`,
		Args: cobra.NoArgs,
		RunE: cmdutil.RunE(o, &o.Context, o.check, runF, Run),
	}
	addCommon(cmd, o)
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "resume at most this many (0: all)")
	return cmd
}

// Job is one parked job as GET /admin/jobs lists it.
type Job struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	ParkedAt   string `json:"parked_at"`
	Error      string `json:"error,omitempty"`
	InputChars int    `json:"input_chars"`
}

type listPage struct {
	Jobs   []Job   `json:"jobs"`
	Cursor *string `json:"cursor"`
}

type resumeResult struct {
	Resumed   int `json:"resumed"`
	Remaining int `json:"remaining"`
}

// apiError is the Workers' error body: {"error":{"code","message",...}}.
type apiError struct {
	Error struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		ResetsAt string `json:"resets_at"`
	} `json:"error"`
}

// Run lists or resumes.
func Run(o *Options) error {
	l, err := o.F.Load(o.Stack)
	if err != nil {
		return err
	}
	pr := l.Plan.Product(o.Product)
	if pr == nil {
		var known []string
		for _, p := range l.Plan.Products {
			known = append(known, p.Name)
		}
		return cmdutil.ConfigError(fmt.Errorf("--product %s: stack %s has no such product (it has %s)", o.Product, o.Stack, strings.Join(known, ", ")))
	}
	if pr.Pattern != stack.AsyncPipeline {
		return cmdutil.ConfigError(fmt.Errorf("--product %s is an %s product: only async-pipeline products park jobs", o.Product, pr.Pattern))
	}
	token := o.F.Env(EnvAuthToken)
	if token == "" {
		return cmdutil.ConfigError(fmt.Errorf("%s is not set: the admin routes need the stack's zerocost:authToken (a stack without one has no admin routes: set it with pulumi config set --secret zerocost:authToken)", EnvAuthToken))
	}
	ctx := o.Context
	if ctx == nil {
		ctx = context.Background()
	}
	base, err := o.productURL(ctx, l, pr.URL)
	if err != nil {
		return err
	}
	c := &client{http: o.F.Client(), base: strings.TrimRight(base, "/"), token: token}
	if o.Command == "resume" {
		return o.resume(ctx, c)
	}
	return o.list(ctx, c)
}

func (o *Options) list(ctx context.Context, c *client) error {
	var jobs []Job
	cursor := ""
	for {
		q := url.Values{"status": {o.Status}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(min(o.Limit-len(jobs), 1000)))
		}
		var page listPage
		if err := c.do(ctx, http.MethodGet, "/admin/jobs?"+q.Encode(), nil, &page); err != nil {
			return err
		}
		jobs = append(jobs, page.Jobs...)
		if page.Cursor == nil || *page.Cursor == "" || len(page.Jobs) == 0 || (o.Limit > 0 && len(jobs) >= o.Limit) {
			break
		}
		cursor = *page.Cursor
	}
	if o.Limit > 0 && len(jobs) > o.Limit {
		jobs = jobs[:o.Limit]
	}
	if o.JSON {
		if jobs == nil {
			jobs = []Job{}
		}
		enc := json.NewEncoder(o.F.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"product": o.Product, "status": o.Status, "jobs": jobs})
	}
	if len(jobs) == 0 {
		fmt.Fprintf(o.F.IO.Out, "%s has no jobs with status %s.\n", o.Product, o.Status)
		return nil
	}
	tw := tabwriter.NewWriter(o.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB ID\tSTATUS\tPARKED AT\tINPUT\tERROR")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d chars\t%s\n", j.JobID, j.Status, j.ParkedAt, j.InputChars, j.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(o.F.IO.ErrOut, "%d jobs of %s with status %s. Resume them with: zerocost jobs resume --stack %s --product %s\n",
		len(jobs), o.Product, o.Status, o.Stack, o.Product)
	return nil
}

// resume calls POST /admin/jobs/resume until nothing is left (or --limit
// is reached): the Worker resumes a bounded number of jobs per call (each
// costs it an R2 write and a queue send, within one invocation's limits).
func (o *Options) resume(ctx context.Context, c *client) error {
	total, remaining := 0, 0
	for {
		body := map[string]any{}
		if o.Limit > 0 {
			body["limit"] = o.Limit - total
		}
		var res resumeResult
		if err := c.do(ctx, http.MethodPost, "/admin/jobs/resume", body, &res); err != nil {
			if total > 0 {
				fmt.Fprintf(o.F.IO.Out, "Resumed %d jobs of %s before the Worker refused.\n", total, o.Product)
			}
			return err
		}
		total += res.Resumed
		remaining = res.Remaining
		if res.Resumed == 0 || remaining == 0 || (o.Limit > 0 && total >= o.Limit) {
			break
		}
	}
	fmt.Fprintf(o.F.IO.Out, "Resumed %d jobs of %s; %d still parked.\n", total, o.Product, remaining)
	return nil
}

// productURL is the product's base URL: the running dev's with --local, else
// the deployed stack's (outputs), else the plan's.
func (o *Options) productURL(ctx context.Context, l *cmdutil.Loaded, planURL string) (string, error) {
	if o.Local {
		path := o.StateFile
		if path == "" {
			path = devrun.StatePath(l.ProjectDir, o.Stack)
		}
		st, err := devrun.ReadStateFile(path)
		if errors.Is(err, devrun.ErrNotRunning) {
			return "", cmdutil.ConfigError(fmt.Errorf("no zerocost dev running for stack %s: start it with `zerocost dev --stack %s`", o.Stack, o.Stack))
		}
		if err != nil {
			return "", cmdutil.ConfigError(fmt.Errorf("reading the state of zerocost dev: %w", err))
		}
		if p := st.Product(o.Product); p != nil && p.URL != "" {
			return p.URL, nil
		}
		return "", cmdutil.ConfigError(fmt.Errorf("%s is not running in the zerocost dev of stack %s: restart it", o.Product, o.Stack))
	}
	var out outputs.Stack
	if o.OutputsFile != "" {
		var err error
		if out, err = outputs.ReadFile(o.OutputsFile); err != nil {
			return "", cmdutil.ConfigError(fmt.Errorf("--outputs: %w", err))
		}
	} else {
		src := o.Outputs
		if src == nil {
			src = verify.PulumiCLI{}
		}
		var err error
		out, err = src.Outputs(ctx, l.ProjectDir, o.Stack)
		if err != nil && !errors.Is(err, verify.ErrNoPulumi) {
			return "", cmdutil.ConfigError(fmt.Errorf("%w\n(or pass the outputs with --outputs FILE)", err))
		}
	}
	if p, ok := out[o.Product]; ok && p.URL != "" {
		return p.URL, nil
	}
	if out != nil {
		if _, ok := out[o.Product]; !ok {
			return "", cmdutil.ConfigError(fmt.Errorf("%s is not in the stack outputs: is it deployed (`pulumi up`)?", o.Product))
		}
	}
	if planURL == "" {
		return "", cmdutil.ConfigError(fmt.Errorf("%s has no URL: it has no route, custom domain or workers.dev subdomain in the plan", o.Product))
	}
	return planURL, nil
}

// client calls a Worker's admin routes.
type client struct {
	http  *http.Client
	base  string
	token string
}

func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+strings.SplitN(path, "?", 2)[0], err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return answerError(res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the Worker's answer is not the admin route's JSON: %w", method, strings.SplitN(path, "?", 2)[0], err)
	}
	return nil
}

// answerError says what a failed admin call means for the user.
func answerError(status int, data []byte) error {
	var e apiError
	_ = json.Unmarshal(data, &e)
	msg := e.Error.Message
	if msg == "" {
		msg = strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
	}
	switch {
	case e.Error.Code == "budget_exhausted":
		when := ""
		if e.Error.ResetsAt != "" {
			when = " (it resets at " + e.Error.ResetsAt + ")"
		}
		return fmt.Errorf("the budget is still spent%s: %s. Raise settings.monthlyBudgetUsd and run pulumi up, or wait for the reset", when, msg)
	case status == http.StatusUnauthorized:
		return cmdutil.ConfigError(fmt.Errorf("the Worker refused the token (401): is %s the stack's zerocost:authToken? %s", EnvAuthToken, msg))
	case status == http.StatusForbidden:
		return cmdutil.ConfigError(fmt.Errorf("the Worker has no admin routes open (403): %s", msg))
	case status == http.StatusNotFound:
		return fmt.Errorf("the Worker has no admin route here (404): is it deployed with this version of zerocost? %s", msg)
	}
	return fmt.Errorf("the Worker answered %d: %s", status, msg)
}
