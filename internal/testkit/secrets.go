package testkit

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

// MinSecretLen is the shortest value Secrets.Note records: shorter values (empty strings,
// fixed test states such as "xyz") would match log text by accident.
const MinSecretLen = 12

// Secrets collects values that must never appear in a gateway's logs. It is safe for
// concurrent use, and a nil *Secrets is valid: it notes nothing and its CheckLog runs only
// the checks that need no noted value.
type Secrets struct {
	mu     sync.Mutex
	apiKey string
	values []string
	seen   map[string]bool
}

// NewSecrets returns an empty Secrets that also looks for apiKey, the WorkOS API key the
// gateway is configured with, whatever its length. An empty apiKey is not looked for.
func NewSecrets(apiKey string) *Secrets {
	return &Secrets{apiKey: apiKey}
}

// Note records v as a secret. Values shorter than MinSecretLen, and values already noted,
// are ignored.
func (s *Secrets) Note(v string) {
	if s == nil || len(v) < MinSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	s.values = append(s.values, v)
}

// Values returns a copy of the noted secrets, without the API key.
func (s *Secrets) Values() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.values...)
}

// stackTrace matches the marks of a Go panic or goroutine dump.
var stackTrace = regexp.MustCompile(`panic|goroutine \d+ \[`)

// CheckLog reports through tb.Errorf each noted secret, the WorkOS API key, a bearer JWT
// ("bearer ey…", in any case) and a panic or goroutine dump found in text. where names the
// text in the messages (for example "gateway logs", or a row ID and a log entry).
func (s *Secrets) CheckLog(tb testing.TB, where, text string) {
	tb.Helper()
	var apiKey string
	var values []string
	if s != nil {
		s.mu.Lock()
		apiKey, values = s.apiKey, append([]string(nil), s.values...)
		s.mu.Unlock()
	}
	if apiKey != "" && strings.Contains(text, apiKey) {
		tb.Errorf("%s: holds the WorkOS API key", where)
	}
	for _, v := range values {
		if strings.Contains(text, v) {
			tb.Errorf("%s: holds a secret (token, code, state or transaction id) starting %q", where, v[:6])
		}
	}
	if strings.Contains(strings.ToLower(text), "bearer ey") {
		tb.Errorf("%s: holds a bearer token", where)
	}
	if stackTrace.MatchString(text) {
		tb.Errorf("%s: holds a panic or goroutine dump:\n%s", where, text)
	}
}
