package shared

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/zerocost/zerocost/internal/contract"
)

// ListPage is one page of GET /admin/jobs: the jobs with status after
// cursor ("" for the first page), at most limit (0: the Worker's default).
type ListPage struct {
	Jobs []Job `json:"jobs"`
	// Cursor is where the next page starts; nil or "" after the last.
	Cursor *string `json:"cursor"`
}

// List fetches one page of the parked jobs.
func (c *Client) List(ctx context.Context, status, cursor string, limit int) (ListPage, error) {
	q := url.Values{"status": {status}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page ListPage
	err := c.do(ctx, http.MethodGet, contract.AdminJobsPath+"?"+q.Encode(), nil, &page)
	return page, err
}

// Resumed is POST /admin/jobs/resume's answer.
type Resumed struct {
	Resumed   int `json:"resumed"`
	Remaining int `json:"remaining"`
}

// Resume re-queues at most limit parked jobs (0: as many as the Worker
// takes in one call).
func (c *Client) Resume(ctx context.Context, limit int) (Resumed, error) {
	body := map[string]any{}
	if limit > 0 {
		body["limit"] = limit
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Resumed{}, err
	}
	var res Resumed
	err = c.do(ctx, http.MethodPost, contract.AdminJobsResumePath, bytes.NewReader(b), &res)
	return res, err
}
