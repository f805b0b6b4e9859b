package cftest

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// D1's query endpoint, as cloudflare-go v7's d1.DatabaseService.Query calls
// it (developers.cloudflare.com/api/resources/d1/subresources/database/methods/query):
//
//	POST .../d1/database/{db}/query   {"sql": "...", "params": ["...", ...]}
//
// answered as {result: [{results: [rows], success: true, meta: {...}}],
// success, errors, messages}. The fake is no SQLite: it reads the rows a
// test seeds (SeedD1Rows) with one statement shape,
//
//	SELECT <columns or *> FROM <table> [WHERE <col> = ? [AND <col> = ?]...] [ORDER BY <col>[, <col>]...]
//
// (parameters ? or ?N, compared as text, as D1's string parameters are).
// So that a fakecf user can seed rows through the API, as through zerocost
// dev's, it also takes CREATE TABLE [IF NOT EXISTS] <table> (...) (an empty
// table; the columns are not checked) and INSERT INTO <table> (<cols>)
// VALUES (?, ...) (a parameter that is an integer is stored as one, as
// SQLite's INTEGER affinity does). Any other statement, and a table never
// seeded, is D1's 400 with code 7500 and SQLite's message.
var d1Select = regexp.MustCompile(`(?is)^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+(.+?))?\s*;?\s*$`)

var (
	d1CreateTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(.*\)[^;]*;?\s*$`)
	d1InsertRow   = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*\(([^)]*)\)\s*;?\s*$`)
	d1Cond        = regexp.MustCompile(`(?i)^\s*(\w+)\s*=\s*\?(\d*)\s*$`)
	d1And         = regexp.MustCompile(`(?i)\s+AND\s+`)
)

// d1SQLError is D1's answer to a statement SQLite refuses.
func d1SQLError(msg string) reply { return badRequest(7500, msg+": SQLITE_ERROR") }

// SeedD1Rows adds rows to a table of a D1 database the fake holds (made by
// AddD1Database or the API); the query endpoint reads them.
func (s *Server) SeedD1Rows(account, database, table string, rows ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.account(account)
	i := slices.IndexFunc(a.D1Databases, func(db D1Database) bool { return db.UUID == database })
	if i < 0 {
		panic(fmt.Sprintf("cftest: no D1 database %s in account %s", database, account))
	}
	db := &a.D1Databases[i]
	if db.Tables == nil {
		db.Tables = map[string][]map[string]any{}
	}
	for _, r := range rows {
		db.Tables[table] = append(db.Tables[table], maps.Clone(r))
	}
	if db.Tables[table] == nil {
		db.Tables[table] = []map[string]any{}
	}
}

var d1Query = d1Databases.on(func(c *call, db *D1Database) reply {
	var body struct {
		SQL    *string  `json:"sql"`
		Params []string `json:"params"`
	}
	if !decode(c.r, &body) || body.SQL == nil {
		return invalidBody("the body must be {sql, params?}")
	}
	if rep, done := d1Write(db, *body.SQL, body.Params); done {
		return rep
	}
	m := d1Select.FindStringSubmatch(*body.SQL)
	if m == nil {
		return d1SQLError("the fake D1 serves CREATE TABLE, INSERT INTO <table> (<cols>) VALUES (?, ...) and SELECT <columns> FROM <table> [WHERE col = ? AND ...] [ORDER BY cols] only")
	}
	rows, found := db.Tables[m[2]]
	if !found {
		return d1SQLError("no such table: " + m[2])
	}
	kept, bad := d1Where(rows, m[3], body.Params)
	if bad != nil {
		return *bad
	}
	if m[4] != "" {
		cols := splitCols(m[4])
		slices.SortStableFunc(kept, func(a, b map[string]any) int {
			for _, col := range cols {
				if n := d1Compare(a[col], b[col]); n != 0 {
					return n
				}
			}
			return 0
		})
	}
	out, bad := d1Project(kept, m[1])
	if bad != nil {
		return *bad
	}
	meta := map[string]any{"changed_db": false, "changes": 0, "duration": 0.1, "last_row_id": 0,
		"rows_read": len(rows), "rows_written": 0, "size_after": 0, "served_by_primary": true}
	return ok([]any{map[string]any{"results": out, "success": true, "meta": meta}})
})

func splitCols(s string) []string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// d1Where keeps the rows that meet every condition of where.
func d1Where(rows []map[string]any, where string, params []string) ([]map[string]any, *reply) {
	type cond struct {
		col, val string
	}
	var conds []cond
	if where != "" {
		for i, part := range d1And.Split(where, -1) {
			m := d1Cond.FindStringSubmatch(part)
			if m == nil {
				rep := d1SQLError(fmt.Sprintf("the fake D1 takes WHERE <col> = ? only, not %q", part))
				return nil, &rep
			}
			n := i
			if m[2] != "" {
				n, _ = strconv.Atoi(m[2])
				n--
			}
			if n < 0 || n >= len(params) {
				rep := d1SQLError(fmt.Sprintf("Wrong number of parameter bindings for SQL query (%d given)", len(params)))
				return nil, &rep
			}
			conds = append(conds, cond{m[1], params[n]})
		}
	}
	out := []map[string]any{}
	for _, r := range rows {
		if !slices.ContainsFunc(conds, func(c cond) bool { return fmt.Sprint(r[c.col]) != c.val }) {
			out = append(out, r)
		}
	}
	return out, nil
}

// d1Project keeps the selected columns of each row (* keeps them all).
func d1Project(rows []map[string]any, cols string) ([]map[string]any, *reply) {
	out := make([]map[string]any, 0, len(rows))
	if strings.TrimSpace(cols) == "*" {
		for _, r := range rows {
			out = append(out, maps.Clone(r))
		}
		return out, nil
	}
	names := splitCols(cols)
	for _, r := range rows {
		row := map[string]any{}
		for _, n := range names {
			v, found := r[n]
			if !found {
				rep := d1SQLError("no such column: " + n)
				return nil, &rep
			}
			row[n] = v
		}
		out = append(out, row)
	}
	return out, nil
}

// d1Compare orders two values: numbers by value, anything else as text.
func d1Compare(a, b any) int {
	x, errA := strconv.ParseFloat(fmt.Sprint(a), 64)
	y, errB := strconv.ParseFloat(fmt.Sprint(b), 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// d1Write runs a CREATE TABLE or an INSERT; done is false for any other
// statement.
func d1Write(db *D1Database, sql string, params []string) (rep reply, done bool) {
	meta := func(changes int) reply {
		return ok([]any{map[string]any{"results": []any{}, "success": true,
			"meta": map[string]any{"changed_db": changes > 0, "changes": changes, "rows_written": changes}}})
	}
	if m := d1CreateTable.FindStringSubmatch(sql); m != nil {
		if _, found := db.Tables[m[2]]; found {
			if m[1] == "" {
				return d1SQLError("table " + m[2] + " already exists"), true
			}
			return meta(0), true
		}
		if db.Tables == nil {
			db.Tables = map[string][]map[string]any{}
		}
		db.Tables[m[2]] = []map[string]any{}
		return meta(1), true
	}
	m := d1InsertRow.FindStringSubmatch(sql)
	if m == nil {
		return reply{}, false
	}
	if _, found := db.Tables[m[1]]; !found {
		return d1SQLError("no such table: " + m[1]), true
	}
	cols, vals := splitCols(m[2]), splitCols(m[3])
	if len(cols) != len(vals) || len(params) != len(vals) || slices.ContainsFunc(vals, func(v string) bool { return v != "?" }) {
		return d1SQLError(fmt.Sprintf("the fake D1 inserts one row of ? parameters, one a column (%d columns, %d given)", len(cols), len(params))), true
	}
	row := map[string]any{}
	for i, col := range cols {
		if n, err := strconv.ParseInt(params[i], 10, 64); err == nil {
			row[col] = n
		} else {
			row[col] = params[i]
		}
	}
	db.Tables[m[1]] = append(db.Tables[m[1]], row)
	return meta(1), true
}
