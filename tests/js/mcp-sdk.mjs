// mcp-sdk.mjs: the official MCP TypeScript SDK's client auth() flow against a running gateway.
//
//   GW=http://localhost:8080 node tests/js/mcp-sdk.mjs
//
// Everything OAuth is done by the SDK (discovery from the 401, dynamic client registration,
// PKCE, the token exchange, refresh); this script only plays the user's browser between
// auth()'s REDIRECT and the code coming back. Prints a JSON summary; exits 1 naming the step
// that failed.
import {
  auth,
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  extractWWWAuthenticateParams,
  refreshAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { InvalidGrantError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { readFileSync } from 'node:fs';
import { browserLeg, callApi, gatewayFromEnv, must, run, step } from './lib/leg.mjs';
import { sdkClient } from './lib/sdk-client.mjs';

const GW = gatewayFromEnv();
const REDIRECT = 'http://127.0.0.1:8090/callback';
const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url)),
).version;

const { provider, store, requests, recordingFetch, authorizationUrl: sentTo } =
  sdkClient({ name: 'MCP SDK e2e', redirect: REDIRECT });

run(async () => {
  const serverUrl = new URL(`${GW}/api/v1/me`);

  // 1. An unauthenticated call: 401 and where to find the authorization server.
  const challenge = await step('401 from the protected route', async () => {
    const res = await fetch(serverUrl);
    must(res.status === 401, '401 from the protected route', `GET /api/v1/me without a token: status ${res.status}, want 401`);
    const params = extractWWWAuthenticateParams(res);
    must(params.resourceMetadataUrl, '401 from the protected route', `no resource_metadata in WWW-Authenticate: ${res.headers.get('www-authenticate')}`);
    return params;
  });

  // 2. auth(): discovery, registration, PKCE start; ends in a redirect to the browser.
  const first = await step('auth() start (discovery, registration, PKCE)', () =>
    auth(provider, { serverUrl, resourceMetadataUrl: challenge.resourceMetadataUrl, scope: challenge.scope, fetchFn: recordingFetch }));
  must(first === 'REDIRECT', 'auth() start (discovery, registration, PKCE)', `auth() returned ${first}, want REDIRECT`);
  must(store.client?.client_id, 'auth() start (discovery, registration, PKCE)', 'no client registered');
  const authorizationUrl = sentTo();
  must(authorizationUrl, 'auth() start (discovery, registration, PKCE)', 'redirectToAuthorization was not called');
  const q = authorizationUrl.searchParams;
  must(q.get('code_challenge_method') === 'S256' && q.get('code_challenge'), 'auth() start (discovery, registration, PKCE)', `no S256 challenge in ${authorizationUrl}`);
  const resource = q.get('resource');

  // 3. The user's browser: consent, WorkOS sign-in, callback.
  const { callbackUrl, trail } = await browserLeg(GW, authorizationUrl, { redirectUri: REDIRECT });
  const code = callbackUrl.searchParams.get('code');
  await step('authorization response', async () => {
    must(code, 'authorization response', `no code in ${callbackUrl}`);
    must(callbackUrl.searchParams.get('state') === store.state, 'authorization response', 'state does not match');
    must(callbackUrl.searchParams.get('iss') === GW, 'authorization response', `iss = ${callbackUrl.searchParams.get('iss')}, want ${GW} (RFC 9207)`);
  });

  // 4. auth() with the code: exchangeAuthorization inside.
  const second = await step('auth() with the code (exchangeAuthorization)', () =>
    auth(provider, { serverUrl, authorizationCode: code, resourceMetadataUrl: challenge.resourceMetadataUrl, fetchFn: recordingFetch }));
  must(second === 'AUTHORIZED', 'auth() with the code (exchangeAuthorization)', `auth() returned ${second}, want AUTHORIZED`);
  const first_tokens = store.tokens;
  must(first_tokens?.access_token && first_tokens?.refresh_token, 'auth() with the code (exchangeAuthorization)', 'no access and refresh token saved');

  // 5. A protected call with the access token.
  const me = await step('protected call', async () => {
    const r = await callApi(GW, '/api/v1/me', first_tokens.access_token);
    must(r.status === 200, 'protected call', `GET /api/v1/me: status ${r.status}: ${r.text.slice(0, 200)}`);
    must(r.json?.user?.email === 'ada@example.com', 'protected call', `email = ${r.json?.user?.email}`);
    return r.json.user;
  });

  // 6. refreshAuthorization: a new access token that works.
  const metadata = await step('AS metadata', () => discoverAuthorizationServerMetadata(GW));
  const refreshed = await step('refreshAuthorization', async () => {
    const t = await refreshAuthorization(GW, {
      metadata, clientInformation: store.client, refreshToken: first_tokens.refresh_token, resource,
    });
    must(t.access_token && t.access_token !== first_tokens.access_token, 'refreshAuthorization', 'no new access token');
    return t;
  });
  await step('protected call with the refreshed token', async () => {
    const r = await callApi(GW, '/api/v1/me', refreshed.access_token);
    must(r.status === 200 && r.json?.user?.email === 'ada@example.com', 'protected call with the refreshed token', `status ${r.status}: ${r.text.slice(0, 200)}`);
  });

  // 7. The same code again: single use, InvalidGrantError. A replayed code also revokes the
  // session it created (RFC 6749 §4.1.2), so this comes after the refresh.
  const replay = await step('code replay', async () => {
    try {
      await exchangeAuthorization(GW, {
        metadata, clientInformation: store.client, authorizationCode: code,
        codeVerifier: store.verifier, redirectUri: REDIRECT, resource,
      });
    } catch (e) {
      must(e instanceof InvalidGrantError, 'code replay', `rejected with ${e?.constructor?.name}: ${e?.message}, want InvalidGrantError`);
      return e.constructor.name;
    }
    must(false, 'code replay', 'the replayed code was exchanged again');
  });
  const afterReplay = await step('session revoked by the replay', async () => {
    const r = await callApi(GW, '/api/v1/me', refreshed.access_token);
    must(r.status === 401, 'session revoked by the replay', `the refreshed token still works after the code was replayed: status ${r.status}`);
    return r.status;
  });

  return {
    client: '@modelcontextprotocol/sdk',
    version: sdkVersion,
    wwwAuthenticate: { resourceMetadataUrl: String(challenge.resourceMetadataUrl), scope: challenge.scope },
    clientId: store.client.client_id,
    tokenEndpointAuthMethod: store.client.token_endpoint_auth_method ?? null,
    authorizeParams: { resource, scope: q.get('scope'), codeChallengeMethod: q.get('code_challenge_method') },
    browserLeg: trail,
    iss: callbackUrl.searchParams.get('iss'),
    firstAuth: first,
    secondAuth: second,
    tokenType: first_tokens.token_type,
    me: { email: me.email },
    replay,
    refreshRotated: refreshed.refresh_token !== first_tokens.refresh_token,
    refreshedCallStatus: 200,
    afterReplayStatus: afterReplay,
    sdkRequests: requests,
  };
});
