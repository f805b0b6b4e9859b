package cfapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/zerocost/zerocost/internal/cftest"
)

// The D1 query client against the fake's query endpoint: parameters
// select the rows, ORDER BY orders them, a 64-bit INTEGER comes back exact,
// and a statement D1 refuses is an *APIError with D1's code.
func TestD1QueryReadsSeededRows(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token))
	s.AddAccount(acct)
	db := s.AddD1Database(acct, "spend-demo")
	s.SeedD1Rows(acct, db.UUID, "customer_spend",
		map[string]any{"month": "2026-11", "product": "ai-relay", "customer": "bob", "nanos": int64(9007199254740993), "calls": 2},
		map[string]any{"month": "2026-11", "product": "ai-relay", "customer": "alice", "nanos": int64(5), "calls": 1},
		map[string]any{"month": "2026-10", "product": "ai-relay", "customer": "alice", "nanos": int64(7), "calls": 3},
	)
	c := client(s, token)
	rows, err := c.D1Query(ctx(t), acct, db.UUID, "SELECT customer, nanos, calls FROM customer_spend WHERE month = ? AND product = ?2 ORDER BY customer", "2026-11", "ai-relay")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(rows)
	want := "[map[calls:1 customer:alice nanos:5] map[calls:2 customer:bob nanos:9007199254740993]]"
	if got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	if n, ok := rows[1]["nanos"].(json.Number); !ok || n.String() != "9007199254740993" {
		t.Errorf("nanos %#v: want the exact json.Number", rows[1]["nanos"])
	}
	if rows, err := c.D1Query(ctx(t), acct, db.UUID, "SELECT * FROM customer_spend WHERE month = ?", "2030-01"); err != nil || rows == nil || len(rows) != 0 {
		t.Errorf("no rows: %v %v, want an empty list", rows, err)
	}
	for _, tc := range []struct {
		db, sql string
		status  int
		want    string
	}{
		{db.UUID, "SELECT * FROM nowhere", http.StatusBadRequest, "7500"},
		{db.UUID, "DELETE FROM customer_spend", http.StatusBadRequest, "7500"},
		{db.UUID, "SELECT * FROM customer_spend WHERE month = ?", http.StatusBadRequest, "Wrong number of parameter bindings"},
		{"00000000-0000-4000-8000-000000000000", "SELECT 1 FROM customer_spend", http.StatusNotFound, "7404"},
	} {
		_, err := c.D1Query(ctx(t), acct, tc.db, tc.sql)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tc.status || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want HTTP %d with %q", tc.sql, err, tc.status, tc.want)
		}
	}
	var sent []string
	for _, r := range s.Requests() {
		sent = append(sent, r.Method+" "+r.Path)
	}
	if want := "POST /accounts/" + acct + "/d1/database/" + db.UUID + "/query"; len(sent) == 0 || sent[0] != want {
		t.Errorf("requests %v, want %s first", sent, want)
	}
}

// decodeD1Query reads Cloudflare's envelope: an unsuccessful one is an
// *APIError, a missing result an error.
func TestDecodeD1Query(t *testing.T) {
	if _, err := decodeD1Query("q", []byte(`{"success":false,"errors":[{"code":7500,"message":"boom"}],"result":[]}`)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("failure: %v", err)
	}
	if _, err := decodeD1Query("q", []byte(`{"success":true,"errors":[],"result":[]}`)); err == nil || !strings.Contains(err.Error(), "no result") {
		t.Errorf("no result: %v", err)
	}
	if _, err := decodeD1Query("q", []byte(`not json`)); err == nil {
		t.Error("not JSON: no error")
	}
}

// The fake takes CREATE TABLE and INSERT too, so that rows can be seeded
// through the API (fakecf), as through zerocost dev's: integers come back
// as numbers.
func TestD1QuerySeedsBySQL(t *testing.T) {
	s := cftest.New(t, cftest.WithToken(token))
	s.AddAccount(acct)
	db := s.AddD1Database(acct, "spend-demo")
	c := client(s, token)
	for _, q := range []struct {
		sql    string
		params []string
	}{
		{"CREATE TABLE IF NOT EXISTS customer_spend (month TEXT NOT NULL, customer TEXT NOT NULL, nanos INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (month, customer)) WITHOUT ROWID", nil},
		{"CREATE TABLE IF NOT EXISTS customer_spend (month TEXT)", nil},
		{"INSERT INTO customer_spend (month, customer, nanos) VALUES (?, ?, ?)", []string{"2026-11", "acme", "42"}},
	} {
		if _, err := c.D1Query(ctx(t), acct, db.UUID, q.sql, q.params...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	rows, err := c.D1Query(ctx(t), acct, db.UUID, "SELECT customer, nanos FROM customer_spend WHERE month = ?", "2026-11")
	if err != nil || len(rows) != 1 || rows[0]["nanos"] != json.Number("42") || rows[0]["customer"] != "acme" {
		t.Errorf("rows %v %v", rows, err)
	}
	for _, sql := range []string{"CREATE TABLE customer_spend (month TEXT)", "INSERT INTO nowhere (a) VALUES (?)", "INSERT INTO customer_spend (month) VALUES ('x')"} {
		if _, err := c.D1Query(ctx(t), acct, db.UUID, sql, "x"); err == nil || !strings.Contains(err.Error(), "7500") {
			t.Errorf("%s: %v, want D1's 7500", sql, err)
		}
	}
}
