package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// framingCase is a request whose body the client does not send whole: it
// is written as raw bytes, then the client closes its side (the server
// reads an end of stream where more body was announced).
type framingCase struct {
	name string
	// head is the request line and headers after the Host; body what follows them.
	head, body string
}

// framingCorpus: bodies cut short and malformed chunked framing, for a POST route.
func framingCorpus(path string) []framingCase {
	post := "POST " + path + " HTTP/1.1\r\nContent-Type: application/json\r\n"
	return []framingCase{
		{"Content-Length larger than the body", post + "Content-Length: 100\r\n", `{"input":"cut sh`},
		{"Content-Length and no body", post + "Content-Length: 13\r\n", ""},
		{"chunked, cut inside a chunk", post + "Transfer-Encoding: chunked\r\n", "40\r\n{\"input\":\"cut"},
		{"chunked, no last chunk", post + "Transfer-Encoding: chunked\r\n", "d\r\n{\"input\":\"a\"}\r\n"},
		{"chunked, a size that is not hex", post + "Transfer-Encoding: chunked\r\n", "zz\r\n{\"input\":\"a\"}\r\n0\r\n\r\n"},
		{"chunked, no CRLF after the data", post + "Transfer-Encoding: chunked\r\n", "d\r\n{\"input\":\"a\"}XX0\r\n\r\n"},
		{"chunked, a negative size", post + "Transfer-Encoding: chunked\r\n", "-5\r\n{\"inp\r\n0\r\n\r\n"},
		{"chunked, a size past 64 bits", post + "Transfer-Encoding: chunked\r\n", "fffffffffffffffffffff\r\n{\"input\":\"a\"}\r\n0\r\n\r\n"},
	}
}

// sendFraming writes one case on its own connection, closes the writing
// side, and reads the answer: a status, or 0 when the server ended the
// connection without one (allowed: the client broke the request).
func sendFraming(base string, c framingCase, auth []string) (int, []byte, http.Header, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, nil, nil, err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return 0, nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	head := strings.Replace(c.head, "\r\n", fmt.Sprintf("\r\nHost: %s\r\n%s: %s\r\nConnection: close\r\n", u.Host, auth[0], auth[1]), 1)
	if _, err := io.WriteString(conn, head+"\r\n"+c.body); err != nil {
		return 0, nil, nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
			return 0, nil, nil, nil // the connection ended
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, data, resp.Header, err
}

// checkFraming sends every framing case to a product's POST route: each
// gets a 4xx JSON error or the connection ends; never a 5xx.
func checkFraming(t *testing.T, env *Env, product, path string, auth []string) map[int]int {
	t.Helper()
	if p := env.RT.Product(product); p != nil && p.Key != "" {
		// A product with keys: its dev key, so the framing reaches the body.
		auth = []string{"Authorization", "Bearer " + p.Key}
	}
	byStatus := map[int]int{}
	for _, c := range framingCorpus(path) {
		status, body, hdr, err := sendFraming(env.URL(product), c, auth)
		if err != nil {
			t.Errorf("%s: %s: %v", product, c.name, err)
			continue
		}
		byStatus[status]++
		if status == 0 {
			continue
		}
		if status < 400 || status > 499 {
			t.Errorf("%s: %s: %d %s, want a 4xx or the connection ended", product, c.name, status, clip(body))
			continue
		}
		if _, err := errorShape(body); err != nil || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %s: %d %q %s: not a JSON error (%v)", product, c.name, status, hdr.Get("Content-Type"), clip(body), err)
		}
	}
	return byStatus
}
