package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"
)

// D1Row is one row of a D1 query's results, by column name. Numbers are
// json.Number, so that a 64-bit INTEGER is read exactly; text is a string;
// NULL is nil.
type D1Row map[string]any

// D1Query runs one SQL statement with its positional parameters (?1, ?),
// which D1's REST API takes as strings, on a D1 database: POST
// accounts/{account}/d1/database/{database}/query with {sql, params}
// (cloudflare-go v7's d1.DatabaseService.Query). Cloudflare answers
// {result: [{results: [rows], success, meta}], success, errors, messages},
// one result per statement; D1Query returns the rows of the first. A
// statement D1 refuses is an *APIError (HTTP 400; D1's code 7500).
func (c *Client) D1Query(ctx context.Context, account, database, sql string, params ...string) ([]D1Row, error) {
	const op = "query D1 database"
	var p d1.DatabaseQueryParams
	p.AccountID.Value, p.AccountID.Present = account, true
	body := d1.DatabaseQueryParamsBodyD1SingleQuery{}
	body.Sql.Value, body.Sql.Present = sql, true
	if params == nil {
		params = []string{}
	}
	body.Params.Value, body.Params.Present = params, true
	p.Body = body
	var raw []byte
	if _, err := c.databases.Query(ctx, database, p, option.WithResponseBodyInto(&raw)); err != nil {
		return nil, c.wrap(op+" "+database, err)
	}
	return decodeD1Query(op+" "+database, raw)
}

// decodeD1Query reads the rows of the first result of a query's envelope.
func decodeD1Query(op string, raw []byte) ([]D1Row, error) {
	var env struct {
		Success bool `json:"success"`
		Result  []struct {
			Results []D1Row `json:"results"`
			Success bool    `json:"success"`
		} `json:"result"`
		Errors []Message `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%s: the answer is not D1's {result: [{results, success, meta}]}: %w", op, err)
	}
	if !env.Success || len(env.Errors) > 0 {
		return nil, &APIError{Op: op, Status: 200, Errors: env.Errors}
	}
	if len(env.Result) == 0 {
		return nil, fmt.Errorf("%s: the answer holds no result", op)
	}
	if !env.Result[0].Success {
		return nil, fmt.Errorf("%s: the statement did not succeed", op)
	}
	rows := env.Result[0].Results
	if rows == nil {
		rows = []D1Row{}
	}
	return rows, nil
}
