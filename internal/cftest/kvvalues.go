package cftest

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Workers KV values, as cloudflare-go v7's kv package calls them
// (/work/shared/cloudflare-api/provider-calls.md, "Workers KV values"):
//
//	PUT    .../storage/kv/namespaces/{ns}/values/{key}   multipart (metadata, value) or a raw body; ?expiration, ?expiration_ttl
//	GET    .../storage/kv/namespaces/{ns}/values/{key}   the raw value, no envelope
//	DELETE .../storage/kv/namespaces/{ns}/values/{key}
//	GET    .../storage/kv/namespaces/{ns}/keys           ?cursor, ?limit, ?prefix
//	GET    .../storage/kv/namespaces/{ns}/metadata/{key}
//
// The key segment is percent-decoded (the SDK sends it as the caller escaped
// it). Limits, from Cloudflare's Workers KV limits page: a key name is at
// most 512 bytes, metadata at most 1024 bytes of JSON, a list page 10 to
// 1000 keys (default 1000), an expiration at least 60 s away.
const (
	kvMaxKey      = 512
	kvMaxMetadata = 1024
	kvMaxList     = 1000
	kvMinList     = 10
	kvMinTTL      = 60
)

// KVValue is one stored pair. Metadata is nil when none was written;
// Expiration is a unix time in seconds, 0 for none.
type KVValue struct {
	Value      []byte
	Metadata   json.RawMessage
	Expiration int64
}

var errKVKeyNotFound = Message{10009, "get: 'key not found'"}

// kvValues is a namespace's pairs; s.mu must be held.
func (c *call) kvValues() (map[string]KVValue, *reply) {
	if !slices.ContainsFunc(c.a.KVNamespaces, func(ns KVNamespace) bool { return ns.ID == c.p["id"] }) {
		rep := notFound(10013, "get namespace: 'namespace not found'")
		return nil, &rep
	}
	if c.s.kv == nil {
		c.s.kv = map[string]map[string]KVValue{}
	}
	id := c.account + "/" + c.p["id"]
	if c.s.kv[id] == nil {
		c.s.kv[id] = map[string]KVValue{}
	}
	return c.s.kv[id], nil
}

// kvLive is the namespace and the live pair the path names (an expired
// pair is gone, as in KV).
func (c *call) kvLive() (map[string]KVValue, KVValue, *reply) {
	vals, bad := c.kvValues()
	if bad != nil {
		return nil, KVValue{}, bad
	}
	v, found := vals[c.p["key"]]
	if !found || (v.Expiration != 0 && v.Expiration <= c.s.now().Unix()) {
		rep := notFound(errKVKeyNotFound.Code, errKVKeyNotFound.Message)
		return nil, KVValue{}, &rep
	}
	return vals, v, nil
}

func kvValuePut(c *call) reply {
	vals, bad := c.kvValues()
	if bad != nil {
		return *bad
	}
	key := c.p["key"]
	if len(key) > kvMaxKey {
		return badRequest(10033, "key name is longer than 512 bytes")
	}
	v, msg := kvReadBody(c.r)
	if msg != "" {
		return invalidBody(msg)
	}
	exp, msg := kvExpiration(c)
	if msg != "" {
		return invalidBody(msg)
	}
	v.Expiration = exp
	vals[key] = v
	return ok(map[string]any{})
}

// kvReadBody reads a PUT's value and metadata: multipart form fields
// "value" and "metadata" (JSON text), or a raw body as the value.
func kvReadBody(r *http.Request) (KVValue, string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxUpload))
		if err != nil {
			return KVValue{}, "reading the body failed"
		}
		return KVValue{Value: b}, ""
	}
	var v KVValue
	gotValue := false
	mr := multipart.NewReader(io.LimitReader(r.Body, maxUpload), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return KVValue{}, "the multipart body does not parse"
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return KVValue{}, "the multipart body does not parse"
		}
		switch part.FormName() {
		case "value":
			v.Value, gotValue = b, true
		case "metadata":
			if len(b) > kvMaxMetadata {
				return KVValue{}, "metadata is larger than 1024 bytes"
			}
			if !json.Valid(b) {
				return KVValue{}, "metadata is not JSON (a Go map sent through cloudflare-go arrives as metadata.<key> fields, not JSON)"
			}
			v.Metadata = json.RawMessage(bytes.Clone(b))
		default:
			return KVValue{}, "unexpected form field " + strconv.Quote(part.FormName()) + " (only value and metadata)"
		}
	}
	if !gotValue {
		return KVValue{}, "the multipart body has no value field"
	}
	return v, ""
}

// kvExpiration reads ?expiration (unix s) and ?expiration_ttl (s; wins).
func kvExpiration(c *call) (int64, string) {
	q := c.r.URL.Query()
	now := c.s.now().Unix()
	if t := q.Get("expiration_ttl"); t != "" {
		n, err := strconv.ParseFloat(t, 64)
		if err != nil || n < kvMinTTL {
			return 0, "expiration_ttl must be at least 60 seconds"
		}
		return now + int64(n), ""
	}
	if t := q.Get("expiration"); t != "" {
		n, err := strconv.ParseFloat(t, 64)
		if err != nil || int64(n) < now+kvMinTTL {
			return 0, "expiration must be at least 60 seconds in the future"
		}
		return int64(n), ""
	}
	return 0, ""
}

func kvValueGet(c *call) reply {
	_, v, bad := c.kvLive()
	if bad != nil {
		return *bad
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if v.Expiration != 0 {
		h.Set("expiration", strconv.FormatInt(v.Expiration, 10))
	}
	return reply{status: http.StatusOK, raw: bytes.Clone(v.Value), header: h}
}

func kvValueDelete(c *call) reply {
	vals, bad := c.kvValues()
	if bad != nil {
		return *bad
	}
	delete(vals, c.p["key"]) // deleting a missing key succeeds, as in KV
	return ok(nil)
}

func kvMetadataGet(c *call) reply {
	_, v, bad := c.kvLive()
	if bad != nil {
		return *bad
	}
	if v.Metadata == nil {
		return ok(nil)
	}
	return ok(v.Metadata)
}

type kvKey struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// kvKeyList lists live keys in name order. The cursor is the last name of
// the previous page; the last page has cursor "".
func kvKeyList(c *call) reply {
	vals, bad := c.kvValues()
	if bad != nil {
		return *bad
	}
	q := c.r.URL.Query()
	limit := kvMaxList
	if l := q.Get("limit"); l != "" {
		n, err := strconv.ParseFloat(l, 64)
		if err != nil || n < kvMinList || n > kvMaxList {
			return badRequest(10001, "limit must be between 10 and 1000")
		}
		limit = int(n)
	}
	prefix, after := q.Get("prefix"), q.Get("cursor")
	now := c.s.now().Unix()
	names := slices.Collect(maps.Keys(vals))
	sort.Strings(names)
	out := []kvKey{}
	cursor := ""
	for _, name := range names {
		v := vals[name]
		if !strings.HasPrefix(name, prefix) || (after != "" && name <= after) || (v.Expiration != 0 && v.Expiration <= now) {
			continue
		}
		if len(out) == limit {
			cursor = out[len(out)-1].Name
			break
		}
		out = append(out, kvKey{Name: name, Expiration: v.Expiration, Metadata: v.Metadata})
	}
	rep := ok(out)
	rep.env.ResultInfo = struct {
		Count   int    `json:"count"`
		Cursor  string `json:"cursor"`
		PerPage int    `json:"per_page"`
	}{len(out), cursor, limit}
	return rep
}

// KVValues is a copy of a namespace's pairs, expired ones included.
func (s *Server) KVValues(account, namespace string) map[string]KVValue {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]KVValue{}
	for k, v := range s.kv[account+"/"+namespace] {
		v.Value, v.Metadata = bytes.Clone(v.Value), bytes.Clone(v.Metadata)
		out[k] = v
	}
	return out
}
