package shared

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/zerocost/zerocost/internal/cmdutil"
	"github.com/zerocost/zerocost/internal/contract"
)

// Job is one parked job as GET /admin/jobs lists it.
type Job struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	ParkedAt   string `json:"parked_at"`
	Error      string `json:"error,omitempty"`
	InputChars int    `json:"input_chars"`
}

// Client calls a Worker's admin routes.
type Client struct {
	http  *http.Client
	base  string
	token string
}

// callTimeout bounds one admin call. It is zerocost's choice, not a
// Cloudflare limit: a connection that stalls must not hang the command.
const callTimeout = 60 * time.Second

// Do sends body (nil: none) as JSON to the admin route path (with its
// query) and decodes the answer into out.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	route := strings.SplitN(path, "?", 2)[0]
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+route, err)
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
		return fmt.Errorf("%s %s: the Worker's answer is not the admin route's JSON: %w", method, route, err)
	}
	return nil
}

// apiError is the Workers' error body: {"error":{"code","message",...}}.
type apiError struct {
	Error struct {
		Code     contract.ErrorCode `json:"code"`
		Message  string             `json:"message"`
		ResetsAt string             `json:"resets_at"`
	} `json:"error"`
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
	case e.Error.Code == contract.ErrBudgetExhausted:
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
