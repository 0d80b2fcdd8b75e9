// mcp-sdk-cimd.mjs: the official MCP TypeScript SDK's auth() with a Client ID Metadata
// Document (clientMetadataUrl) against a running gateway.
//
//   GW=http://localhost:8080 CLIENT_METADATA_URL=https://127.0.0.1:9443/client.json node tests/js/mcp-sdk-cimd.mjs
//
// The SDK sees client_id_metadata_document_supported in the AS metadata and uses the URL as
// its client_id instead of registering; the gateway fetches the document. This script only
// plays the user's browser between auth()'s REDIRECT and the code coming back. Prints a JSON
// summary; exits 1 naming the step that failed.
import { auth, extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
import { browserLeg, callApi, gatewayFromEnv, must, run, step } from './lib/leg.mjs';
import { sdkClient } from './lib/sdk-client.mjs';

const GW = gatewayFromEnv();
const CLIENT_METADATA_URL = process.env.CLIENT_METADATA_URL;
if (!CLIENT_METADATA_URL) {
  process.stderr.write('set CLIENT_METADATA_URL to the https URL of the client metadata document\n');
  process.exit(2);
}
const REDIRECT = 'http://127.0.0.1:8090/callback';

const { provider, store, requests, recordingFetch, authorizationUrl: sentTo } =
  sdkClient({ name: 'MCP SDK CIMD e2e', redirect: REDIRECT, metadataUrl: CLIENT_METADATA_URL });

run(async () => {
  const serverUrl = new URL(`${GW}/api/v1/me`);

  const challenge = await step('401 from the protected route', async () => {
    const res = await fetch(serverUrl);
    must(res.status === 401, '401 from the protected route', `status ${res.status}, want 401`);
    return extractWWWAuthenticateParams(res);
  });

  // auth(): discovery, then the URL as client_id (no registration), PKCE start.
  const first = await step('auth() start (discovery, metadata-document client_id, PKCE)', () =>
    auth(provider, { serverUrl, resourceMetadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope, fetchFn: recordingFetch }));
  must(first === 'REDIRECT', 'auth() start', `auth() returned ${first}, want REDIRECT`);
  const authorizationUrl = sentTo();
  must(authorizationUrl, 'auth() start', 'redirectToAuthorization was not called');
  const clientIdSent = authorizationUrl.searchParams.get('client_id');

  // The user's browser: consent (whose page shows the verified host), sign-in, callback.
  const consentPage = await step('consent page names the verified host', async () => {
    const res = await fetch(authorizationUrl, { headers: { Accept: 'text/html' }, redirect: 'manual' });
    return { status: res.status, body: await res.text() };
  });
  const { callbackUrl, trail } = await browserLeg(GW, authorizationUrl, { redirectUri: REDIRECT });
  const code = callbackUrl.searchParams.get('code');
  must(code && callbackUrl.searchParams.get('state') === store.state, 'authorization response', `no code or wrong state in ${callbackUrl}`);

  const second = await step('auth() with the code (exchangeAuthorization)', () =>
    auth(provider, { serverUrl, authorizationCode: code, resourceMetadataUrl: challenge.resourceMetadataUrl, fetchFn: recordingFetch }));
  must(second === 'AUTHORIZED', 'auth() with the code', `auth() returned ${second}, want AUTHORIZED`);
  must(store.tokens?.access_token, 'auth() with the code', 'no access token saved');

  const me = await step('protected call', async () => {
    const r = await callApi(GW, '/api/v1/me', store.tokens.access_token);
    must(r.status === 200, 'protected call', `GET /api/v1/me: status ${r.status}: ${r.text.slice(0, 200)}`);
    return r.json.user;
  });

  return {
    client: '@modelcontextprotocol/sdk',
    clientId: store.client?.client_id,
    clientIdSent,
    consentStatus: consentPage.status,
    consentShowsHost: consentPage.body.includes('id="verified"') && consentPage.body.includes(`<b>${new URL(CLIENT_METADATA_URL).host}</b>`),
    browserLeg: trail,
    firstAuth: first,
    secondAuth: second,
    me: { email: me.email },
    sdkRequests: requests,
  };
});
