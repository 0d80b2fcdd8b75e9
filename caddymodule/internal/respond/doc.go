// Package respond renders every failure the gateway answers, from one typed value (*Error)
// that says how it is delivered: OAuth JSON ({"error","error_description"}) for the discovery
// and auth routes, a local HTML page for a browser that must not be redirected, a redirect to
// the client's registered redirect URI with its state and the issuer (RFC 9207), or the drio
// resource envelope ({"error":{"code","message","details","requestId"}}) for protected routes.
// The two body families are never mixed. Write is the one writer.
package respond
