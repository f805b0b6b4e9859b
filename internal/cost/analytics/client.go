// Package analytics reads a deployed stack's usage from Cloudflare: the
// Workers, KV, R2 and Queues datasets of the GraphQL Analytics API and the
// model tokens the Workers write to Workers Analytics Engine (read with its
// SQL API), and turns them into a cost.Usage for pricing.
package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/zerocost/zerocost/internal/cfapi"
)

// Client calls Cloudflare's analytics APIs with an API token. The token needs
// the account permission "Account Analytics: Read". It is set up as every
// zerocost client of Cloudflare's API is (cfapi.Config): its errors are
// *cfapi.APIError.
type Client struct {
	// BaseURL is the API base (cfapi.NormalizeBaseURL: "" is Cloudflare's;
	// a bare origin gets /client/v4/).
	BaseURL   string
	Token     string
	AccountID string
	HTTP      *http.Client
	// MaxRetries is how often 408, 409, 429 and 5xx answers are retried;
	// negative is cfapi.DefaultMaxRetries.
	MaxRetries int
}

// AuthHint ends the message of a refused token.
const AuthHint = "check " + cfapi.EnvToken + ": it needs the Account Analytics: Read permission on the stack's account"

func (c *Client) api() cfapi.Config {
	return cfapi.Config{Token: c.Token, BaseURL: c.BaseURL, HTTPClient: c.HTTP, MaxRetries: c.MaxRetries, AuthHint: AuthHint}
}

func (c *Client) post(ctx context.Context, what, path, contentType string, body []byte) ([]byte, error) {
	return c.api().Post(ctx, what, path, contentType, body)
}

// gqlAnswer is a GraphQL answer; errors come back with HTTP 200.
type gqlAnswer struct {
	Data *struct {
		Viewer *struct {
			Accounts []map[string]json.RawMessage `json:"accounts"`
		} `json:"viewer"`
	} `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// Query is the documented query of a dataset's groups from $start to before
// $end: at most 10,000 rows (within each dataset's page size, its node limit:
// https://developers.cloudflare.com/analytics/graphql-api/limits/), with the
// fields selected, one a line. names, when not "", filters the groups by a
// dimension: "scriptName_in: $scripts" declares $scripts, a [string!].
// $accountTag is set by GraphQL.
func Query(dataset, names string, fields ...string) string {
	vars, filter := "", "datetime_geq: $start, datetime_lt: $end"
	if names != "" {
		vars = ", " + names[strings.Index(names, "$"):] + ": [string!]"
		filter += ", " + names
	}
	return `query ($accountTag: string!, $start: Time!, $end: Time!` + vars + `) {
  viewer {
    accounts(filter: {accountTag: $accountTag}) {
      ` + dataset + `(limit: 10000, filter: {` + filter + `}) {
        ` + strings.Join(fields, "\n        ") + `
      }
    }
  }
}`
}

// GraphQL runs a query of one dataset, in the documented shape
// viewer { accounts(filter: {accountTag: $accountTag}) { <dataset>(...) {...} } },
// and returns the dataset's rows (JSON objects). $accountTag is set here.
// Every error names the dataset.
func (c *Client) GraphQL(ctx context.Context, dataset, query string, vars map[string]any) ([]json.RawMessage, error) {
	v := map[string]any{"accountTag": c.AccountID}
	for k, x := range vars {
		v[k] = x
	}
	body, err := json.Marshal(map[string]any{"query": query, "variables": v})
	if err != nil {
		return nil, err
	}
	data, err := c.post(ctx, dataset, "graphql", "application/json", body)
	if err != nil {
		return nil, err
	}
	var ans gqlAnswer
	if err := json.Unmarshal(data, &ans); err != nil {
		return nil, fmt.Errorf("%s: the GraphQL answer is not JSON: %w", dataset, err)
	}
	if len(ans.Errors) > 0 {
		msgs := make([]string, len(ans.Errors))
		for i, e := range ans.Errors {
			msgs[i] = e.Message
			if code, ok := e.Extensions["code"].(string); ok && code != "" {
				msgs[i] += " (" + code + ")"
			}
		}
		return nil, fmt.Errorf("%s: GraphQL error: %s", dataset, strings.Join(msgs, "; "))
	}
	if ans.Data == nil || ans.Data.Viewer == nil {
		return nil, fmt.Errorf("%s: the GraphQL answer has no data.viewer", dataset)
	}
	if len(ans.Data.Viewer.Accounts) == 0 {
		return nil, fmt.Errorf("%s: the answer holds no account %s: is the account id right, and may the token read its analytics?", dataset, c.AccountID)
	}
	raw, ok := ans.Data.Viewer.Accounts[0][dataset]
	if !ok {
		return nil, fmt.Errorf("%s: missing from the answer (data.viewer.accounts[0] has no %s)", dataset, dataset)
	}
	var rows []json.RawMessage
	if string(raw) == "null" {
		return nil, fmt.Errorf("%s: null in the answer", dataset)
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s: not a list of rows: %w", dataset, err)
	}
	return rows, nil
}

// SQLResult is the Analytics Engine SQL API's JSON answer.
type SQLResult struct {
	Meta []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"meta"`
	Data []map[string]any `json:"data"`
	Rows int              `json:"rows"`
}

// SQLWhat names the Analytics Engine SQL API in errors.
const SQLWhat = "Analytics Engine SQL API"

// SQL runs a query on the Analytics Engine SQL API: POST
// {base}accounts/{account_id}/analytics_engine/sql with the SQL as the body.
func (c *Client) SQL(ctx context.Context, query string) (*SQLResult, error) {
	data, err := c.post(ctx, SQLWhat, "accounts/"+c.AccountID+"/analytics_engine/sql", "text/plain", []byte(query))
	if err != nil {
		return nil, err
	}
	var res SQLResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s: the answer is not the JSON format's {meta, data, rows}: %w", SQLWhat, err)
	}
	if res.Data == nil {
		var env struct {
			Errors []cfapi.Message `json:"errors"`
		}
		if json.Unmarshal(data, &env) == nil && len(env.Errors) > 0 {
			return nil, &cfapi.APIError{Op: SQLWhat, Status: http.StatusOK, Errors: env.Errors, Hint: AuthHint}
		}
		return nil, fmt.Errorf("%s: the answer has no data", SQLWhat)
	}
	return &res, nil
}

// Number reads a JSON number that the SQL API may also give as a string
// (64-bit integers).
func Number(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
