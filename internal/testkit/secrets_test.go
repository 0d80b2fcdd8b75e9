package testkit

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

const (
	apiKey  = "sk_test_e2e" // shorter than MinSecretLen: looked for anyway
	jwt     = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln"
	refresh = "rt_0123456789abcdefXYZ"
)

func check(t *testing.T, s *Secrets, text string) []string {
	t.Helper()
	r := &Recorder{TB: t}
	s.CheckLog(r, "logs", text)
	return r.Errs()
}

func TestCheckLogFindsWhatMustNotBeLogged(t *testing.T) {
	s := NewSecrets(apiKey)
	s.Note(refresh)
	s.Note("short") // below MinSecretLen: ignored
	for _, tc := range []struct {
		name, text, want string
	}{
		{"noted secret", `{"msg":"token issued","refresh":"` + refresh + `"}`, `secret (token, code, state or transaction id) starting "rt_012"`},
		{"bearer JWT", `{"msg":"request","authorization":"Bearer ` + jwt + `"}`, "bearer token"},
		{"bearer JWT, lower case", `authorization: bearer ` + jwt, "bearer token"},
		{"API key", `{"msg":"config","api_key":"` + apiKey + `"}`, "WorkOS API key"},
		{"panic", "panic: runtime error: invalid memory address\n\ngoroutine 1 [running]:\nmain.main()", "panic or goroutine dump"},
		{"goroutine dump", "goroutine 42 [select]:\nnet/http.(*persistConn).readLoop", "panic or goroutine dump"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := check(t, s, tc.text)
			if len(errs) != 1 || !strings.HasPrefix(errs[0], "logs: ") || !strings.Contains(errs[0], tc.want) {
				t.Errorf("CheckLog reported %q, want one report with %q", errs, tc.want)
			}
		})
	}
}

func TestCheckLogPassesCleanText(t *testing.T) {
	s := NewSecrets(apiKey)
	s.Note(refresh)
	s.Note("short")
	clean := `{"level":"info","msg":"token issued","client_id":"drio_abc","status":200,"note":"short"}` + "\n" +
		`{"level":"warn","msg":"refused","authorization":"Bearer not-a-jwt","error":"invalid_token"}`
	if errs := check(t, s, clean); len(errs) != 0 {
		t.Errorf("CheckLog on clean text reported %q", errs)
	}
	// A nil Secrets still runs the checks that need no noted value.
	if errs := check(t, nil, clean); len(errs) != 0 {
		t.Errorf("nil Secrets on clean text reported %q", errs)
	}
	if errs := check(t, nil, "Bearer "+jwt); len(errs) != 1 {
		t.Errorf("nil Secrets on a bearer JWT reported %q, want one report", errs)
	}
}

func TestNoteIsSafeForConcurrentUse(t *testing.T) {
	s := NewSecrets("")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Note(fmt.Sprintf("secret-value-%04d", i))
			s.Note("secret-value-same")
			_ = s.Values()
		}()
	}
	wg.Wait()
	if n := len(s.Values()); n != 51 {
		t.Errorf("%d values noted, want 51 (50 distinct and one noted by every goroutine)", n)
	}
	var nilSecrets *Secrets
	nilSecrets.Note("secret-value-nil")
	if v := nilSecrets.Values(); v != nil {
		t.Errorf("nil Secrets holds %q", v)
	}
}
