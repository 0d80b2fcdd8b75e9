package cimd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultMaxBytes = 5 * 1024
)

// maxAddresses bounds the addresses of one host a fetch tries.
const maxAddresses = 4

// errBlocked is returned by the dial hook for an address a fetch must not reach.
var errBlocked = errors.New("cimd: address is not public")

// Options configure a Resolver. The zero value is the production setting: system roots,
// public addresses only, the default timeout and size cap.
type Options struct {
	// RootCAs, when set, replaces the system roots for the document servers' certificates.
	// For tests with a private CA only.
	RootCAs *x509.CertPool
	// AllowPrivateAddresses lets fetches reach loopback, private, link-local and every other
	// non-public address. Dangerous: for tests only; any client could then make the gateway
	// request internal services.
	AllowPrivateAddresses bool
	// Timeout bounds one fetch, from connecting to the last byte. Default: 5 s.
	Timeout time.Duration
	// MaxBytes caps a document's size. Default: 5 KiB.
	MaxBytes int64
	// CheckRedirectURI judges each redirect URI a document declares (the rules of dynamic
	// registration). Required.
	CheckRedirectURI func(string) error

	// lookup resolves a host name (tests replace it). Default: the system resolver.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// maxEntries bounds the cache (tests shrink it). Default: MaxEntries.
	maxEntries int
}

// fetcher fetches one document with the safe HTTP client built from Options.
type fetcher struct {
	opts   Options
	client *http.Client
	dialer *net.Dialer
}

func newFetcher(opts Options) *fetcher {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.lookup == nil {
		opts.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	f := &fetcher{opts: opts}
	// The check runs on the address actually being connected to, after any name resolution,
	// so a DNS answer cannot change between the check and the connection.
	f.dialer = &net.Dialer{Timeout: opts.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || (!opts.AllowPrivateAddresses && !PublicAddress(ap.Addr())) {
			return errBlocked
		}
		return nil
	}}
	f.client = &http.Client{
		Timeout: opts.Timeout,
		// The document must be served at its URL: a redirect is an answer other than 200.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:                  nil, // never HTTPS_PROXY: the address check must see the real peer
			DialContext:            f.dial,
			TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    opts.Timeout,
			ResponseHeaderTimeout:  opts.Timeout,
			MaxResponseHeaderBytes: 16 << 10,
			DisableKeepAlives:      true, // fetches are rare; keep no connection or goroutine
		},
	}
	return f
}

// dial resolves addr's host itself and connects to at most maxAddresses of its addresses;
// the dialer's Control hook refuses each non-public one.
func (f *fetcher) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = f.opts.lookup(ctx, host); err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, errors.New("no address for " + host)
	}
	var firstErr error
	for i, ip := range ips {
		if i == maxAddresses {
			break
		}
		conn, err := f.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil || errors.Is(err, errBlocked) {
			firstErr = err
		}
	}
	return nil, firstErr
}

// fetch GETs id's document and validates it. It returns the response headers for caching.
func (f *fetcher) fetch(ctx context.Context, id string) (*Document, http.Header, *Error) {
	if err := CheckURL(id); err != nil {
		return nil, nil, fail(KindInvalidURL, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, nil, fail(KindInvalidURL, "client_id URL cannot be requested")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "drio-gateway (client metadata document fetch)")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fail(KindStatus, "the client metadata document URL answered %d; it must answer 200 with the document itself (redirects are not followed)", resp.StatusCode)
	}
	if !jsonMediaType(resp.Header.Get("Content-Type")) {
		return nil, nil, fail(KindContentType, "the client metadata document must be served as application/json")
	}
	if resp.ContentLength > f.opts.MaxBytes {
		return nil, nil, fail(KindTooLarge, "the client metadata document is larger than %d bytes", f.opts.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, nil, classify(err)
	}
	if int64(len(body)) > f.opts.MaxBytes {
		return nil, nil, fail(KindTooLarge, "the client metadata document is larger than %d bytes", f.opts.MaxBytes)
	}
	doc, e := parseDocument(id, body, f.opts.CheckRedirectURI)
	if e != nil {
		return nil, nil, e
	}
	return doc, resp.Header, nil
}

// classify names a transport failure without repeating its text, which may hold addresses.
func classify(err error) *Error {
	var ne net.Error
	switch {
	case errors.Is(err, errBlocked):
		return fail(KindBlockedAddress, "the client_id URL's host resolves to a non-public address; the gateway fetches metadata documents only from public addresses")
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fail(KindTimeout, "the client metadata document did not arrive in time")
	default:
		return fail(KindNetwork, "the client metadata document could not be fetched (DNS, connection or TLS failure)")
	}
}

// jsonMediaType accepts application/json and application/<anything>+json.
func jsonMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mt, "application/")
	return ok && (sub == "json" || (strings.HasSuffix(sub, "+json") && len(sub) > len("+json")))
}
