package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRunServesBothListeners(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type urls struct{ res, wos string }
	readyc := make(chan urls, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-resource-addr", "127.0.0.1:0", "-workos-addr", "127.0.0.1:0", "-client-id", "client_smoke", "-api-key", "sk_smoke"},
			func(r, w string) { readyc <- urls{r, w} })
	}()
	var u urls
	select {
	case u = <-readyc:
	case err := <-done:
		t.Fatalf("run exited early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("run never became ready")
	}

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, base := range []string{u.res, u.wos} {
		res, err := c.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("%s/healthz: %d %q", base, res.StatusCode, b)
		}
	}
	res, err := c.Get(u.res + "/api/v1/templates")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("templates: %d", res.StatusCode)
	}
	q := url.Values{"client_id": {"client_smoke"}, "redirect_uri": {"http://localhost:1/cb"}, "response_type": {"code"},
		"provider": {"authkit"}, "login_hint": {"ada@example.com"}, "state": {"x"}}
	res, err = c.Get(u.wos + "/user_management/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 302 || !strings.Contains(res.Header.Get("Location"), "code=") {
		t.Errorf("authorize: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	tr.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not shut down")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"-no-such-flag"}, nil); err == nil {
		t.Error("unknown flag accepted")
	}
	if err := run(context.Background(), []string{"-resource-addr", "127.0.0.1:0", "-workos-addr", "127.0.0.1:0", "-client-id", ""}, nil); err == nil {
		t.Error("empty client id accepted")
	}
}
