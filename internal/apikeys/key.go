// Package apikeys is a product's customer keys: their format (a recognisable
// prefix and a checksum, so that secret scanners find a leaked key and a
// mistyped one is refused before any lookup), their hash (the only thing
// stored), the record kept under that hash in the product's KEYS namespace
// of Workers KV, and a store over Cloudflare's KV REST API (cloudflare-go's
// kv package) that creates, lists, revokes and rotates them.
//
// The format and the layout are shared with the Worker
// (workers-src), which checks each request's key against the same namespace.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Key format: Prefix, then randLen random base62 characters, then
// checksumLen base62 characters of the CRC32 (IEEE) of the random part,
// left-padded with '0'. 62^6 > 2^32, so any CRC32 fits in 6 characters.
const (
	Prefix      = "zck_"
	randLen     = 30
	checksumLen = 6
	// Len is a key's length.
	Len = len(Prefix) + randLen + checksumLen
	// DisplayLen is the length of a key's display prefix (Prefix and 8
	// characters): what list shows and revoke --key takes.
	DisplayLen = len(Prefix) + 8
)

// alphabet is base62 in ASCII order; digit 0 is '0', the checksum's padding.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed says a string is not a key: wrong prefix, length or
// characters, or a checksum that does not match (a mistyped key).
var ErrMalformed = errors.New("malformed key")

// Generate makes a new key from r (crypto/rand.Reader when nil). Each random
// character is drawn without bias: bytes of 248 or more (62*4) are skipped.
func Generate(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 0, randLen)
	buf := make([]byte, 64)
	for len(out) < randLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < randLen {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return Prefix + string(out) + checksum(string(out)), nil
}

// checksum is the CRC32 (IEEE) of s in base62, padded to checksumLen.
func checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	var b [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		b[i] = alphabet[v%62]
		v /= 62
	}
	return string(b[:])
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(alphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// Validate checks a key's format and checksum; its error wraps ErrMalformed.
// It never repeats the key in its message.
func Validate(key string) error {
	body, ok := strings.CutPrefix(key, Prefix)
	switch {
	case !ok:
		return fmt.Errorf("%w: it does not start with %s", ErrMalformed, Prefix)
	case len(key) != Len:
		return fmt.Errorf("%w: it has %d characters, a key has %d", ErrMalformed, len(key), Len)
	case !isBase62(body):
		return fmt.Errorf("%w: only letters and digits follow %s", ErrMalformed, Prefix)
	case checksum(body[:randLen]) != body[randLen:]:
		return fmt.Errorf("%w: its checksum does not match (mistyped?)", ErrMalformed)
	}
	return nil
}

// IsDisplayPrefix reports whether s has the shape of a key's display prefix.
func IsDisplayPrefix(s string) bool {
	return len(s) == DisplayLen && strings.HasPrefix(s, Prefix) && isBase62(s[len(Prefix):])
}

// DisplayPrefix is the first DisplayLen characters of a key: enough to tell
// keys apart in a list, far too few to use.
func DisplayPrefix(key string) string { return key[:min(len(key), DisplayLen)] }

// Hash is the lowercase hex SHA-256 of the key: what the store keeps.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// KVName is the KV key name of a key's record.
func KVName(hash string) string { return KVNamePrefix + hash }

// KVNamePrefix starts every record's KV key name.
const KVNamePrefix = "k:"
