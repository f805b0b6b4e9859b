package cfapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/queues"
)

// This file is the one setup of Cloudflare API clients that every command
// shares: `zerocost verify` (Client), `zerocost deploy` (verification through
// Client, rollback through cloudflare-go's workers service) and `zerocost cost
// report` (the analytics APIs through Config.Post). They read the same
// environment, normalise the base URL the same way, send the same token and
// user agent, retry the same answers, and fail with the same *APIError.

// Environment variables of the commands that call Cloudflare's API.
const (
	// EnvToken holds the API token.
	EnvToken = "CLOUDFLARE_API_TOKEN"
	// EnvBaseURL overrides the API base (tests point it at a fake API).
	EnvBaseURL = "ZEROCOST_CLOUDFLARE_API_URL"
)

// DefaultBaseURL is Cloudflare's v4 API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4/"

// apiPath is what a bare origin gets.
const apiPath = "/client/v4/"

// DefaultMaxRetries is how often a call answered 408, 409, 429 or 5xx, or
// not answered at all, is retried (cloudflare-go's default).
const DefaultMaxRetries = 2

// UserAgent is sent with every call.
const UserAgent = "zerocost (+https://github.com/zerocost/zerocost)"

// Config configures every Cloudflare API client of zerocost.
type Config struct {
	// Token is the API token, sent as a bearer token.
	Token string
	// BaseURL is normalised by NormalizeBaseURL; "" is DefaultBaseURL.
	BaseURL string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
	// MaxRetries is how often 408, 409, 429, 5xx answers and connection
	// errors are retried; negative means DefaultMaxRetries.
	MaxRetries int
	// AuthHint, when set, ends the message of a refused token (401, 403, or
	// an authentication error code): what permission the token needs.
	AuthHint string
}

// ResolveBaseURL is the API base of a command: its flag (named flagName; ""
// when it was not given), else $ZEROCOST_CLOUDFLARE_API_URL, else
// DefaultBaseURL, normalised. The error names where the bad URL came from.
func ResolveBaseURL(flag, flagName string, getenv func(string) string) (string, error) {
	raw, from := flag, flagName
	if raw == "" && getenv != nil {
		raw, from = getenv(EnvBaseURL), EnvBaseURL
	}
	u, err := NormalizeBaseURL(raw)
	if err != nil {
		return "", fmt.Errorf("%s %q is not an http(s) URL", from, raw)
	}
	return u, nil
}

// NormalizeBaseURL makes raw a base URL cloudflare-go can resolve paths
// against: "" is DefaultBaseURL, a bare origin (http://127.0.0.1:8080) gets
// /client/v4/, and the path ends with a slash. Only http(s) URLs with a host
// are accepted.
func NormalizeBaseURL(raw string) (string, error) {
	if raw == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = apiPath
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

func (c Config) baseURL() string {
	u, err := NormalizeBaseURL(c.BaseURL)
	if err != nil {
		// Callers check the URL first (ResolveBaseURL); a bad one left
		// here fails at the first call, with the transport's error.
		return strings.TrimRight(c.BaseURL, "/") + "/"
	}
	return u
}

func (c Config) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return http.DefaultClient
}

func (c Config) maxRetries() int {
	if c.MaxRetries < 0 {
		return DefaultMaxRetries
	}
	return c.MaxRetries
}

// Options are the request options of cloudflare-go's service packages
// (queues.NewQueueService(cfg.Options()...), workers..., not the root
// package, which pulls in every Cloudflare product).
func (c Config) Options() []option.RequestOption {
	return []option.RequestOption{
		option.WithBaseURL(c.baseURL()),
		option.WithAPIToken(c.Token),
		option.WithHTTPClient(c.httpClient()),
		option.WithMaxRetries(c.maxRetries()),
		option.WithHeader("User-Agent", UserAgent),
	}
}

// Message is one error Cloudflare reported. Code is 0 when the answer gave
// none (a GraphQL or plain-text error).
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (m Message) String() string {
	if m.Code == 0 {
		return m.Message
	}
	return fmt.Sprintf("%s (code %d)", m.Message, m.Code)
}

// APIError is a call Cloudflare answered with an error, from any client of
// this package's setup: it keeps Cloudflare's error codes and messages.
type APIError struct {
	// Op says what was asked, e.g. "list queues".
	Op     string
	Status int
	Errors []Message
	// Hint is Config.AuthHint; Error adds it when the token was refused.
	Hint string
}

func (e *APIError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, m := range e.Errors {
		parts[i] = m.String()
	}
	msg := strings.Join(parts, "; ")
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if msg == "" {
		msg = "no error message"
	}
	s := fmt.Sprintf("%s: Cloudflare answered HTTP %d: %s", e.Op, e.Status, msg)
	if e.Hint != "" && e.auth() {
		s += " (" + e.Hint + ")"
	}
	return s
}

// HasCode reports whether Cloudflare gave this error code.
func (e *APIError) HasCode(code int) bool {
	for _, m := range e.Errors {
		if m.Code == code {
			return true
		}
	}
	return false
}

// authCodes are Cloudflare's codes for a missing, invalid or insufficient token.
var authCodes = []int{9106, 9109, 10000, 6003, 6111}

func (e *APIError) auth() bool {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		return true
	}
	for _, c := range authCodes {
		if e.HasCode(c) {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// IsAuth reports whether err says the token is missing, invalid or lacks a
// permission.
func IsAuth(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.auth()
}

// Wrap turns the error of a cloudflare-go call into *APIError; other errors
// (transport, context) are returned with op in front.
func (c Config) Wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *queues.Error // every service package aliases the same apierror.Error
	if errors.As(err, &ce) {
		ae := &APIError{Op: op, Status: ce.StatusCode, Hint: c.AuthHint}
		for _, e := range ce.Errors {
			ae.Errors = append(ae.Errors, Message{Code: int(e.Code), Message: e.Message})
		}
		return ae
	}
	return fmt.Errorf("%s: %w", op, err)
}

// maxBody bounds what Post reads of an answer.
const maxBody = 64 << 20

// Post sends body to an API path that cloudflare-go's service packages do
// not cover (the GraphQL and Analytics Engine SQL APIs), with the same base
// URL, token, user agent and retries as they have, and returns the answer's
// body. An answer outside 2xx is an *APIError holding Cloudflare's errors
// (its v4 envelope, a GraphQL errors array, or the body's text).
func (c Config) Post(ctx context.Context, op, path, contentType string, body []byte) ([]byte, error) {
	u := c.baseURL() + strings.TrimLeft(path, "/")
	retries := c.maxRetries()
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		req.Header.Set("Authorization", "Bearer "+c.Token)
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", UserAgent)
		res, err := c.httpClient().Do(req)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", op, ctx.Err())
		}
		var data []byte
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(res.Body, maxBody))
			res.Body.Close()
			if err != nil {
				err = fmt.Errorf("reading the answer: %w", err)
			}
		}
		if attempt < retries && shouldRetry(res, err) {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: %w", op, ctx.Err())
			case <-time.After(retryDelay(res, attempt)):
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			return nil, &APIError{Op: op, Status: res.StatusCode, Errors: ErrorMessages(data), Hint: c.AuthHint}
		}
		return data, nil
	}
}

// shouldRetry is cloudflare-go's rule: no answer, or x-should-retry, or 408,
// 409, 429 or 5xx.
func shouldRetry(res *http.Response, err error) bool {
	if res == nil || err != nil {
		return true
	}
	switch res.Header.Get("x-should-retry") {
	case "true":
		return true
	case "false":
		return false
	}
	s := res.StatusCode
	return s == http.StatusRequestTimeout || s == http.StatusConflict || s == http.StatusTooManyRequests || s >= 500
}

// retryDelay is cloudflare-go's: retry-after-ms or retry-after (seconds or a
// date) when the answer gives one, else 0.5 s doubling per attempt up to 8 s,
// less up to a quarter of jitter.
func retryDelay(res *http.Response, attempt int) time.Duration {
	if res != nil {
		if v, err := strconv.ParseFloat(res.Header.Get("Retry-After-Ms"), 64); err == nil {
			return max(0, time.Duration(v*float64(time.Millisecond)))
		}
		ra := res.Header.Get("Retry-After")
		if v, err := strconv.ParseFloat(ra, 64); err == nil {
			return max(0, time.Duration(v*float64(time.Second)))
		}
		if t, err := time.Parse(time.RFC1123, ra); err == nil {
			return max(0, time.Until(t))
		}
	}
	d := min(8*time.Second, time.Duration(float64(500*time.Millisecond)*float64(int(1)<<min(attempt, 5))))
	return d - time.Duration(rand.Int64N(int64(d/4)+1))
}

// ErrorMessages reads the errors of an answer: Cloudflare's v4 envelope
// ({"errors":[{"code","message"}]}), a GraphQL errors array, or the body's
// text (clipped).
func ErrorMessages(data []byte) []Message {
	var env struct {
		Errors []Message `json:"errors"`
	}
	if json.Unmarshal(data, &env) == nil && len(env.Errors) > 0 {
		return env.Errors
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return nil
	}
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return []Message{{Message: text}}
}
