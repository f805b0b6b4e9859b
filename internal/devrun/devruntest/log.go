// Package devruntest holds helpers for tests that start the local runtime
// (or another process of ours that logs from several goroutines).
package devruntest

import (
	"bytes"
	"sync"
	"testing"
)

// Log collects the output that the runtime (or a server such as fakecf)
// writes from several goroutines.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// NewLog returns a Log whose last tail bytes the test prints if it fails.
func NewLog(t testing.TB, tail int) *Log {
	l := &Log{}
	t.Cleanup(func() {
		if t.Failed() {
			s := l.String()
			if len(s) > tail {
				s = "…" + s[len(s)-tail:]
			}
			t.Logf("runtime log (tail):\n%s", s)
		}
	})
	return l
}
