// sdk-client.mjs: the in-memory MCP client the SDK drivers share: an OAuthClientProvider that
// keeps everything in one object, and a fetch that records what the SDK itself sent.

/**
 * sdkClient returns an in-memory OAuthClientProvider for a public client named name with the
 * one redirect URI redirect, published at metadataUrl when one is given (the SDK then uses the
 * URL as its client_id instead of registering), plus what it records: store (client, tokens,
 * verifier, state, discovery), requests (the SDK's own requests, "METHOD path -> status"),
 * recordingFetch (the fetchFn to give auth()) and authorizationUrl() (where auth() sent the
 * browser, once it has).
 */
export function sdkClient({ name, redirect, metadataUrl }) {
  const store = {};
  const requests = [];
  let authorizationUrl;
  const recordingFetch = async (url, init) => {
    const res = await fetch(url, init);
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(url)).pathname} -> ${res.status}`);
    return res;
  };
  const provider = {
    get redirectUrl() { return redirect; },
    get clientMetadata() {
      return {
        client_name: name,
        redirect_uris: [redirect],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
    },
    state: () => (store.state = crypto.randomUUID()),
    clientInformation: () => store.client,
    saveClientInformation: (c) => { store.client = c; },
    tokens: () => store.tokens,
    saveTokens: (t) => { store.tokens = t; },
    redirectToAuthorization: (u) => { authorizationUrl = new URL(u); },
    saveCodeVerifier: (v) => { store.verifier = v; },
    codeVerifier: () => store.verifier,
    saveDiscoveryState: (s) => { store.discovery = s; },
    discoveryState: () => store.discovery,
  };
  if (metadataUrl) {
    Object.defineProperty(provider, 'clientMetadataUrl', { get: () => metadataUrl, enumerable: true });
  }
  return { provider, store, requests, recordingFetch, authorizationUrl: () => authorizationUrl };
}
