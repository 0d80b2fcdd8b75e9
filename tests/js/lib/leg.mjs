// leg.mjs: shared pieces of the client drivers. The browser leg (consent page, WorkOS
// stand-in sign-in, our callback) is driven with plain fetch, one redirect at a time, with a
// small cookie jar, exactly as a browser would carry it.

export class StepError extends Error {
  constructor(step, message) {
    super(`${step}: ${message}`);
    this.step = step;
  }
}

/** step runs fn and names the step in any error it throws. */
export async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StepError) throw e;
    const err = new StepError(name, e?.stack || String(e));
    err.cause = e;
    throw err;
  }
}

export function must(cond, step, message) {
  if (!cond) throw new StepError(step, message);
}

/** A cookie jar keyed by host: enough for the gateway's and the stand-in's cookies. */
class Jar {
  #byHost = new Map();
  store(url, res) {
    const host = new URL(url).host;
    const cookies = this.#byHost.get(host) ?? new Map();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-)/i.test(a)) || value === '';
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
    this.#byHost.set(host, cookies);
  }
  header(url) {
    const cookies = this.#byHost.get(new URL(url).host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function hop(jar, url, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'text/html');
  const cookie = jar.header(url);
  if (cookie) headers.set('Cookie', cookie);
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(url, res);
  const body = await res.text();
  return { res, body, location: res.headers.get('location') };
}

function hidden(page, name) {
  const m = page.match(new RegExp(`name="${name}" value="([^"]*)"`));
  return m ? m[1].replaceAll('&#34;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&') : undefined;
}

/**
 * browserLeg follows an authorization URL through the gateway's consent page (approve),
 * the WorkOS stand-in (login_hint signs in at once) and the gateway's callback, and returns
 * the URL the gateway sent the browser back to (the client's redirect URI with code, state, iss).
 */
export async function browserLeg(gw, authorizationUrl, { email = 'ada@example.com', redirectUri } = {}) {
  const jar = new Jar();
  const trail = [];
  const consent = await step('browser leg: authorize (consent page)', async () => {
    const r = await hop(jar, String(authorizationUrl));
    trail.push(`GET authorize -> ${r.res.status}`);
    must(r.res.status === 200, 'browser leg: authorize (consent page)', `status ${r.res.status}, want 200 with the consent page; body: ${r.body.slice(0, 300)}`);
    return r.body;
  });
  const txn = hidden(consent, 'txn');
  const csrf = hidden(consent, 'csrf');
  must(txn && csrf, 'browser leg: consent form', 'no txn/csrf hidden fields in the consent page');
  const signin = await step('browser leg: approve consent', async () => {
    const form = new URLSearchParams({ txn, csrf, decision: 'approve' });
    const r = await hop(jar, `${gw}/api/v1/auth/authorize`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: gw },
      body: form.toString(),
    });
    trail.push(`POST authorize (approve) -> ${r.res.status}`);
    must(r.res.status === 303 && r.location, 'browser leg: approve consent', `status ${r.res.status}, want 303 to WorkOS; body: ${r.body.slice(0, 300)}`);
    must(r.location.includes('/user_management/authorize?'), 'browser leg: approve consent', `not sent to the WorkOS stand-in: ${r.location}`);
    return r.location;
  });
  const callback = await step('browser leg: WorkOS sign-in', async () => {
    const r = await hop(jar, `${signin}&login_hint=${encodeURIComponent(email)}`);
    trail.push(`GET WorkOS authorize (login_hint) -> ${r.res.status}`);
    must(r.res.status === 302 && r.location, 'browser leg: WorkOS sign-in', `status ${r.res.status}, want 302 to the callback`);
    must(r.location.startsWith(`${gw}/api/v1/auth/callback?`), 'browser leg: WorkOS sign-in', `not sent to the gateway callback: ${r.location}`);
    return r.location;
  });
  const back = await step('browser leg: gateway callback', async () => {
    const r = await hop(jar, callback);
    trail.push(`GET callback -> ${r.res.status}`);
    must(r.res.status === 302 && r.location, 'browser leg: gateway callback', `status ${r.res.status}, want 302 to the client; body: ${r.body.slice(0, 300)}`);
    if (redirectUri) {
      must(r.location.startsWith(redirectUri), 'browser leg: gateway callback', `redirected to ${r.location}, want the client's ${redirectUri}`);
    }
    return new URL(r.location);
  });
  return { callbackUrl: back, trail };
}

/** callApi GETs a gateway path with a bearer token and returns {status, json}. */
export async function callApi(gw, path, token) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(gw + path, { headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

/** run executes main, prints its summary as JSON on stdout, and exits 1 naming the failed step. */
export async function run(main) {
  try {
    const summary = await main();
    process.stdout.write(JSON.stringify({ ok: true, ...summary }, null, 2) + '\n');
  } catch (e) {
    const stepName = e?.step ?? 'unexpected error';
    process.stdout.write(JSON.stringify({ ok: false, failedStep: stepName, error: String(e?.message ?? e) }, null, 2) + '\n');
    process.stderr.write(`FAILED at step "${stepName}": ${e?.message ?? e}\n`);
    process.exitCode = 1;
  }
}

export function gatewayFromEnv() {
  const gw = process.env.GW;
  if (!gw) {
    process.stderr.write('set GW to the gateway base URL (its issuer), e.g. GW=http://localhost:8080\n');
    process.exit(2);
  }
  return gw.replace(/\/+$/, '');
}
