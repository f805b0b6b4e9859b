package shared

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Job is one parked job as GET /admin/jobs lists it.
type Job struct {
	JobID      string `json:"job_id"`
	Status     string `json:"status"`
	ParkedAt   string `json:"parked_at"`
	Error      string `json:"error,omitempty"`
	InputChars int    `json:"input_chars"`
	// Customer is the customer whose key sent the job ("" on a public product).
	Customer string `json:"customer,omitempty"`
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

// do sends body (nil: none; JSON otherwise) to the admin route path (with
// its query) and decodes the answer into out.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	where := *req.URL
	where.RawQuery = ""
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, where.String(), err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, where.Path, err)
	}
	if res.StatusCode/100 != 2 {
		return answerError(res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the Worker's answer is not the admin route's JSON: %w", method, where.Path, err)
	}
	return nil
}
