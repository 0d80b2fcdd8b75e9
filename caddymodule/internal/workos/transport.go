package workos

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// maxResponse caps what the gateway reads of any WorkOS answer.
const maxResponse = 1 << 20

// HTTPClient is the HTTP client for every call to WorkOS (SDK calls and JWKS fetches): bounded
// in time, never following a redirect, and reading at most 1 MiB of any response.
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Transport: &limitedTransport{base: sharedTransport, max: maxResponse},
	}
}

// sharedTransport keeps enough idle connections to WorkOS for concurrent flows
// (http.DefaultTransport keeps 2 per host, so most calls would dial).
var sharedTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.MaxIdleConns = 128
	return t
}()

// limitedTransport wraps a RoundTripper so that reading more than max bytes of a response
// body fails instead of buffering an unbounded answer.
type limitedTransport struct {
	base http.RoundTripper
	max  int64
}

func (t *limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// ErrResponseTooLarge is the read error of a WorkOS answer over the size cap.
var ErrResponseTooLarge = errors.New("response from WorkOS is larger than the limit")

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
