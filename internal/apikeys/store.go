package apikeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/shared"

	"github.com/zerocost/zerocost/internal/cfapi"
)

// listLimit is what each list call asks for: KV lists at most 1000 keys a
// call (Cloudflare API, "List a Namespace's Keys": limit 10 to 1000).
const listLimit = 1000

// maxListPages bounds listing: a server that keeps answering a cursor would
// otherwise be asked forever (cfapi.MaxPages pages of 1000 keys).
const maxListPages = cfapi.MaxPages

// maxRecord bounds what is read of one value: a record is at most
// MaxMetadata bytes.
const maxRecord = 64 << 10

// Store is one product's KEYS namespace, through Cloudflare's KV REST API
// (or a zerocost dev serving the same endpoints).
type Store struct {
	cfg       cfapi.Config
	account   string
	namespace string
	values    *kv.NamespaceValueService
	keys      *kv.NamespaceKeyService
}

// NewStore returns the store of a namespace in an account.
func NewStore(cfg cfapi.Config, account, namespace string) *Store {
	opts := cfg.Options()
	return &Store{cfg: cfg, account: account, namespace: namespace,
		values: kv.NewNamespaceValueService(opts...), keys: kv.NewNamespaceKeyService(opts...)}
}

// Entry is one stored record and the hash it is stored under.
type Entry struct {
	Hash   string
	Record Record
}

// Put writes a record under its hash: the record's JSON is the value, and
// the same JSON, as a string, the metadata (cloudflare-go flattens a map
// into metadata.<key> form fields, which is not JSON).
func (s *Store) Put(ctx context.Context, hash string, rec Record) error {
	return s.put(ctx, hash, rec, time.Time{})
}

// MinExpiry is the nearest expiration Workers KV takes: 60 seconds ahead
// (Cloudflare API, "Write key-value pair with metadata": expiration_ttl
// "must be at least 60").
const MinExpiry = 60 * time.Second

// PutUntil writes a record as Put does, and has KV delete the pair at
// until (at least MinExpiry after now: a nearer time is moved there), so
// that a key that is never revoked leaves nothing behind. Rewriting the
// record with Put would drop the expiration: rewrite it with PutUntil.
func (s *Store) PutUntil(ctx context.Context, hash string, rec Record, until, now time.Time) error {
	if min := now.Add(MinExpiry); until.Before(min) {
		until = min
	}
	return s.put(ctx, hash, rec, until)
}

func (s *Store) put(ctx context.Context, hash string, rec Record, until time.Time) error {
	b, err := rec.Marshal()
	if err != nil {
		return err
	}
	var p kv.NamespaceValueUpdateParams
	p.AccountID.Value, p.AccountID.Present = s.account, true
	p.Value.Value, p.Value.Present = kv.NamespaceValueUpdateParamsValueUnion(shared.UnionString(b)), true
	p.Metadata.Value, p.Metadata.Present = interface{}(string(b)), true
	if !until.IsZero() {
		// Whole seconds up: KV takes a unix time in seconds.
		p.Expiration.Value, p.Expiration.Present = float64(until.Add(time.Second-1).Unix()), true
	}
	_, err = s.values.Update(ctx, s.namespace, escapeKey(KVName(hash)), p)
	return s.cfg.Wrap("write the record of "+rec.Prefix, err)
}

// Get reads the record stored under a hash; found is false when there is none.
func (s *Store) Get(ctx context.Context, hash string) (rec Record, found bool, err error) {
	var q kv.NamespaceValueGetParams
	q.AccountID.Value, q.AccountID.Present = s.account, true
	res, err := s.values.Get(ctx, s.namespace, escapeKey(KVName(hash)), q)
	if err != nil {
		err = s.cfg.Wrap("read a key's record", err)
		if cfapi.IsNotFound(err) {
			return Record{}, false, nil
		}
		return Record{}, false, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxRecord))
	if err != nil {
		return Record{}, false, fmt.Errorf("read a key's record: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return Record{}, false, fmt.Errorf("read a key's record: HTTP %d", res.StatusCode)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, false, fmt.Errorf("the record under %s is not a key record: %w", KVName(hash), err)
	}
	return rec, true, nil
}

// List reads every record from the keys' metadata (no value reads), sorted
// by customer, then creation time, then prefix.
func (s *Store) List(ctx context.Context) ([]Entry, error) {
	var p kv.NamespaceKeyListParams
	p.AccountID.Value, p.AccountID.Present = s.account, true
	p.Limit.Value, p.Limit.Present = float64(listLimit), true
	p.Prefix.Value, p.Prefix.Present = KVNamePrefix, true
	var out []Entry
	for range maxListPages {
		page, err := s.keys.List(ctx, s.namespace, p)
		if err != nil {
			return nil, s.cfg.Wrap("list the keys", err)
		}
		for _, k := range page.Result {
			e, err := s.entry(ctx, k)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		if len(page.Result) == 0 || page.ResultInfo.Cursor == "" {
			sort.Slice(out, func(i, j int) bool { return less(out[i].Record, out[j].Record) })
			return out, nil
		}
		p.Cursor.Value, p.Cursor.Present = page.ResultInfo.Cursor, true
	}
	return nil, fmt.Errorf("list the keys: more than %d pages; giving up", maxListPages)
}

// entry decodes a listed key's metadata, or reads its value when it has
// none (a record written without metadata).
func (s *Store) entry(ctx context.Context, k kv.Key) (Entry, error) {
	hash := k.Name[len(KVNamePrefix):]
	var rec Record
	if raw := k.JSON.Metadata.Raw(); raw != "" && raw != "null" && json.Unmarshal([]byte(raw), &rec) == nil && rec.V > 0 {
		return Entry{Hash: hash, Record: rec}, nil
	}
	rec, found, err := s.Get(ctx, hash)
	if err != nil {
		return Entry{}, err
	}
	if !found {
		return Entry{}, errors.New("list the keys: " + k.Name + " was listed but is gone; list again")
	}
	return Entry{Hash: hash, Record: rec}, nil
}

func less(a, b Record) bool {
	if a.Customer != b.Customer {
		return a.Customer < b.Customer
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Prefix < b.Prefix
}

// escapeKey escapes a KV key name for the API's path as encodeURIComponent
// does: cloudflare-go inserts the name unescaped, and Cloudflare's API
// reference asks for special characters such as ':' to be URL-encoded.
func escapeKey(name string) string {
	return strings.ReplaceAll(url.PathEscape(name), ":", "%3A")
}
