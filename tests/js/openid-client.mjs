// openid-client.mjs: panva's openid-client 6 (on oauth4webapi) against a running gateway.
//
//   GW=http://localhost:8080 node tests/js/openid-client.mjs
//
// openid-client is the strict one: the metadata's issuer must equal the URL it discovered,
// the authorization response must carry iss (RFC 9207, advertised by the gateway) equal to
// it, and state must match exactly. Prints a JSON summary; exits 1 naming the failed step.
import * as client from 'openid-client';
import { readFileSync } from 'node:fs';
import { browserLeg, gatewayFromEnv, must, run, step } from './lib/leg.mjs';

const GW = gatewayFromEnv();
const REDIRECT = 'http://127.0.0.1:8091/callback';
const RESOURCE = `${GW}/api/v1`; // RFC 8707: the API base, as its PRM names it
const version = JSON.parse(readFileSync(new URL('./node_modules/openid-client/package.json', import.meta.url))).version;
const options = { algorithm: 'oauth2', execute: [client.allowInsecureRequests] }; // http on 127.0.0.1 only

run(async () => {
  // 1. RFC 8414 discovery at /.well-known/oauth-authorization-server (issuer checked).
  const discovered = await step('discovery', () => client.discovery(new URL(GW), 'not-registered-yet', undefined, client.None(), options));
  const as = discovered.serverMetadata();
  must(as.issuer === GW, 'discovery', `issuer ${as.issuer}, want ${GW}`);

  // 2. Dynamic client registration as a public client.
  const config = await step('dynamicClientRegistration', () => client.dynamicClientRegistration(new URL(GW), {
    client_name: 'openid-client e2e',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }, client.None(), options));
  const registered = config.clientMetadata();
  must(registered.client_id, 'dynamicClientRegistration', 'no client_id');

  // 3. Authorization request with PKCE, state and resource.
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email',
    state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    resource: RESOURCE,
  });

  // 4. The user's browser.
  const { callbackUrl, trail } = await browserLeg(GW, authorizationUrl, { redirectUri: REDIRECT });

  // 5. Code exchange: checks iss and state, sends the verifier and resource.
  const tokens = await step('authorizationCodeGrant', () =>
    client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: false }, { resource: RESOURCE }));
  must(tokens.access_token && tokens.refresh_token, 'authorizationCodeGrant', 'no access and refresh token');
  must(tokens.token_type?.toLowerCase() === 'bearer', 'authorizationCodeGrant', `token_type ${tokens.token_type}`);

  // 6. A protected call.
  const me = await step('protected call', async () => {
    const res = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${GW}/api/v1/me`), 'GET');
    const body = await res.json();
    must(res.status === 200 && body?.user?.email === 'ada@example.com', 'protected call', `status ${res.status}: ${JSON.stringify(body).slice(0, 200)}`);
    return body.user;
  });

  // 7. Refresh, and a call with the new token.
  const refreshed = await step('refreshTokenGrant', () => client.refreshTokenGrant(config, tokens.refresh_token, { resource: RESOURCE }));
  must(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'refreshTokenGrant', 'no new access token');
  const refreshedStatus = await step('protected call with the refreshed token', async () => {
    const res = await client.fetchProtectedResource(config, refreshed.access_token, new URL(`${GW}/api/v1/me`), 'GET');
    must(res.status === 200, 'protected call with the refreshed token', `status ${res.status}`);
    return res.status;
  });

  // 8. The code again: invalid_grant (and the session it created is revoked, RFC 6749 §4.1.2).
  const replay = await step('code replay', async () => {
    try {
      await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier, expectedState: state, idTokenExpected: false }, { resource: RESOURCE });
    } catch (e) {
      must(e instanceof client.ResponseBodyError && e.error === 'invalid_grant', 'code replay',
        `rejected with ${e?.constructor?.name} ${e?.code ?? ''} ${e?.error ?? ''}: ${e?.message}, want ResponseBodyError invalid_grant`);
      return { error: e.error, status: e.status };
    }
    must(false, 'code replay', 'the replayed code was exchanged again');
  });

  return {
    client: 'openid-client',
    version,
    issuer: as.issuer,
    metadata: {
      authorization_response_iss_parameter_supported: as.authorization_response_iss_parameter_supported ?? null,
      code_challenge_methods_supported: as.code_challenge_methods_supported ?? null,
    },
    clientId: registered.client_id,
    tokenEndpointAuthMethod: registered.token_endpoint_auth_method ?? null,
    resource: RESOURCE,
    browserLeg: trail,
    iss: callbackUrl.searchParams.get('iss'),
    tokenType: tokens.token_type,
    expiresIn: tokens.expires_in ?? null,
    me: { email: me.email },
    refreshRotated: refreshed.refresh_token !== tokens.refresh_token,
    refreshedCallStatus: refreshedStatus,
    replay: replay.error,
    replayStatus: replay.status,
  };
});
