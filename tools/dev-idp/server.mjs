// MARAC Hub development OpenID Provider.
//
// A thin wrapper around the certified `oidc-provider` package, configured
// entirely through environment variables (see README.md). It replaces the
// package's development-only interactions with a small, stable login page
// that tests can drive with plain HTTP, and auto-consents afterwards.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

function fail(message) {
  console.error(`dev-idp: ${message}`);
  process.exit(2);
}

function intEnv(name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const PORT = intEnv('IDP_PORT', 9000, { min: 0, max: 65535 });
const HOST = process.env.IDP_HOST || '127.0.0.1';
const TEST_ADMIN = process.env.IDP_TEST_ADMIN === '1';
const DEBUG = process.env.IDP_DEBUG === '1';
const KEYS_FILE = process.env.IDP_KEYS_FILE || '';
const ACCESS_TOKEN_TTL = intEnv('IDP_ACCESS_TOKEN_TTL', 600, { min: 5 });
const ID_TOKEN_TTL = intEnv('IDP_ID_TOKEN_TTL', 600, { min: 5 });
const SESSION_TTL = intEnv('IDP_SESSION_TTL', 8 * 60 * 60, { min: 60 });
const CLOCK_TOLERANCE = intEnv('IDP_CLOCK_TOLERANCE', 15, { min: 0, max: 300 });

function loadConfig() {
  let raw;
  let source;
  if (process.env.IDP_CONFIG_JSON) {
    raw = process.env.IDP_CONFIG_JSON;
    source = 'IDP_CONFIG_JSON';
  } else {
    source = process.env.IDP_CONFIG || path.join(HERE, 'example-config.json');
    try {
      raw = fs.readFileSync(source, 'utf8');
    } catch (err) {
      fail(`cannot read config ${source}: ${err.message}`);
    }
  }
  let config;
  try {
    config = JSON.parse(raw);
  } catch (err) {
    fail(`config from ${source} is not valid JSON: ${err.message}`);
  }
  if (!config || typeof config !== 'object') fail(`config from ${source} must be a JSON object`);
  if (!Array.isArray(config.clients) || config.clients.length === 0) {
    fail(`config from ${source} needs a non-empty "clients" array`);
  }
  if (!Array.isArray(config.users)) fail(`config from ${source} needs a "users" array`);
  return config;
}

const CONFIG = loadConfig();

const ISSUER = (process.env.IDP_ISSUER || `http://127.0.0.1:${PORT}`).replace(/\/+$/, '');
// An issuer may have a path (Entra ID's is /<tenant>/v2.0): every endpoint lives under it.
let PREFIX = '';
{
  let parsed;
  try {
    parsed = new URL(ISSUER);
  } catch {
    fail(`IDP_ISSUER is not a URL: ${ISSUER}`);
  }
  if (parsed.search || parsed.hash) {
    fail('IDP_ISSUER must not have a query or fragment');
  }
  PREFIX = parsed.pathname.replace(/\/+$/, '');
  if (PORT === 0 && !process.env.IDP_ISSUER) {
    fail('IDP_PORT=0 needs IDP_ISSUER; pick a free port instead');
  }
}

// Which kinds of signing key to make: "RS256,ES256" (the default) or, say, "ES256" alone.
const SIGNING_ALGS = (process.env.IDP_SIGNING_ALGS || 'RS256,ES256').split(',').map((a) => a.trim()).filter(Boolean);
for (const alg of SIGNING_ALGS) {
  if (!['RS256', 'ES256'].includes(alg)) fail(`IDP_SIGNING_ALGS: ${alg} is not RS256 or ES256`);
}

// Resource servers (APIs) that may be named with the `resource` parameter.
// The hub API is always present; the config file may add more.
const API_AUDIENCE = process.env.IDP_API_AUDIENCE || 'urn:marac-hub:api';
const API_SCOPES = (process.env.IDP_API_SCOPES || 'referrals:read referrals:write')
  .split(/\s+/).filter(Boolean);

const RESOURCES = {};
for (const [identifier, rs] of Object.entries(CONFIG.resources || {})) {
  RESOURCES[identifier] = {
    scope: Array.isArray(rs.scope) ? rs.scope.join(' ') : String(rs.scope || ''),
    accessTokenTTL: rs.accessTokenTTL,
    alg: rs.alg,
  };
}
if (!RESOURCES[API_AUDIENCE]) {
  RESOURCES[API_AUDIENCE] = { scope: API_SCOPES.join(' ') };
}
const RESOURCE_SCOPES = new Set(
  Object.values(RESOURCES).flatMap((rs) => rs.scope.split(' ').filter(Boolean)),
);

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

const USERS_BY_LOGIN = new Map();
const USERS_BY_SUB = new Map();
for (const [i, user] of CONFIG.users.entries()) {
  if (!user || typeof user.sub !== 'string' || !user.sub) fail(`users[${i}] needs a string "sub"`);
  if (typeof user.password !== 'string') fail(`users[${i}] needs a string "password"`);
  const login = String(user.login ?? user.email ?? user.sub).trim().toLowerCase();
  if (USERS_BY_LOGIN.has(login)) fail(`users[${i}] repeats login ${login}`);
  if (USERS_BY_SUB.has(user.sub)) fail(`users[${i}] repeats sub ${user.sub}`);
  USERS_BY_LOGIN.set(login, user);
  USERS_BY_SUB.set(user.sub, user);
}

function userClaims(user) {
  const { password, login, acr, omit_claims: omit = [], ...claims } = user;
  if (claims.email !== undefined && claims.email_verified === undefined) {
    claims.email_verified = true;
  }
  // A provider that never sends a claim (Entra ID sends no email_verified).
  for (const name of omit) delete claims[name];
  return claims;
}

function passwordMatches(user, password) {
  const a = crypto.createHash('sha256').update(String(user.password)).digest();
  const b = crypto.createHash('sha256').update(String(password)).digest();
  return crypto.timingSafeEqual(a, b);
}

function authenticate(login, password) {
  const user = USERS_BY_LOGIN.get(String(login || '').trim().toLowerCase());
  // Compare against something even for unknown logins to keep timing flat.
  const ok = passwordMatches(user || { password: '\0' }, password || '');
  return user && ok ? user : undefined;
}

async function findAccount(ctx, sub) {
  const user = USERS_BY_SUB.get(sub);
  if (!user) return undefined;
  return {
    accountId: sub,
    // The provider filters these by the granted scopes and claims.
    async claims() {
      return userClaims(user);
    },
  };
}

// ---------------------------------------------------------------------------
// Signing keys: kid = RFC 7638 JWK thumbprint, new ones on every start
// unless IDP_KEYS_FILE holds keys from an earlier run.
// ---------------------------------------------------------------------------

function thumbprint(jwk) {
  // Required members only, in lexicographic order (RFC 7638 section 3.2).
  let members;
  if (jwk.kty === 'RSA') members = { e: jwk.e, kty: jwk.kty, n: jwk.n };
  else if (jwk.kty === 'EC') members = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  else throw new Error(`unsupported key type ${jwk.kty}`);
  return crypto.createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

function generateSigningKeys() {
  const keys = [];
  if (SIGNING_ALGS.includes('RS256')) {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ format: 'jwk' });
    keys.push({ ...rsa, use: 'sig', alg: 'RS256', kid: thumbprint(rsa) });
  }
  if (SIGNING_ALGS.includes('ES256')) {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'jwk' });
    keys.push({ ...ec, use: 'sig', alg: 'ES256', kid: thumbprint(ec) });
  }
  return keys;
}

function saveKeys(keys) {
  if (!KEYS_FILE) return;
  fs.mkdirSync(path.dirname(path.resolve(KEYS_FILE)), { recursive: true });
  const tmp = `${KEYS_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, KEYS_FILE);
}

function initialKeys() {
  if (KEYS_FILE && fs.existsSync(KEYS_FILE)) {
    let keys;
    try {
      ({ keys } = JSON.parse(fs.readFileSync(KEYS_FILE, 'utf8')));
      if (!Array.isArray(keys) || keys.length === 0) throw new Error('no "keys" array');
      keys = keys.map((k) => ({ ...k, kid: thumbprint(k) }));
    } catch (err) {
      fail(`IDP_KEYS_FILE ${KEYS_FILE} is unusable (${err.message}); delete it to get new keys`);
    }
    return keys;
  }
  const keys = generateSigningKeys();
  saveKeys(keys);
  return keys;
}

let signingKeys = initialKeys();
const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} - MARAC Hub dev IdP</title>
<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#0b0c0c}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;box-sizing:border-box;padding:.4rem;font-size:1rem}
button{margin-top:1.2rem;padding:.5rem 1rem;font-size:1rem}
.error{color:#d4351c;font-weight:600;border-left:4px solid #d4351c;padding-left:.6rem}
.note{color:#505a5f;font-size:.9rem}
</style>
</head>
<body>
<main>
${body}
<p class="note">MARAC Hub development identity provider. Not for real accounts.</p>
</main>
</body>
</html>
`;
}

function send(res, status, html, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    ...headers,
  });
  res.end(html);
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

function loginPage({ uid, clientName, login = '', error = false }) {
  const action = `${PREFIX}/interaction/${encodeURIComponent(uid)}/login`;
  return page('Sign in', `<h1>Sign in</h1>
<p>to continue to <strong id="client-name">${esc(clientName)}</strong></p>
${error ? '<p class="error" id="login-error" role="alert">Invalid login or password.</p>' : ''}
<form id="login-form" method="post" action="${esc(action)}" autocomplete="off">
<label for="login">Email or username</label>
<input id="login" name="login" type="text" value="${esc(login)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password">
<button id="sign-in" type="submit" name="action" value="login">Sign in</button>
</form>
<p><a id="cancel" href="${esc(PREFIX)}/interaction/${esc(encodeURIComponent(uid))}/abort">Cancel and return to the application</a></p>`);
}

async function logoutSource(ctx, form) {
  // `form` is the provider's own form (hidden xsrf field). The buttons go
  // inside it so a plain HTTP client sees one self-contained form.
  const buttons = '<button id="confirm-logout" type="submit" name="logout" value="yes">Yes, sign me out</button>\n'
    + '<button id="stay-signed-in" type="submit">No, stay signed in</button>';
  const formHtml = form.includes('</form>')
    ? form.replace('</form>', `${buttons}</form>`)
    : `${form}${buttons.replace(/<button /g, '<button form="op.logoutForm" ')}`;
  ctx.type = 'html';
  ctx.body = page('Sign out', `<h1>Sign out</h1>
<p>Do you want to sign out of the MARAC Hub development identity provider?</p>
${formHtml}`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1 id="signed-out">You have signed out</h1>');
}

async function renderError(ctx, out) {
  ctx.type = 'html';
  ctx.body = page('Error', `<h1>Something went wrong</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span class="${esc(k)}">${esc(v)}</span></p>`).join('\n')}`);
}

// ---------------------------------------------------------------------------
// Storage: one in-memory store for the whole process. oidc-provider 9 gives
// each Provider instance its own memory store, which would lose sessions and
// tokens whenever /__admin/rotate builds a new instance with new keys.
// ---------------------------------------------------------------------------

const STORE = new Map(); // "<Model>:<id>" -> { payload, expiresAt }
const GRANT_MEMBERS = new Map(); // grantId -> Set of store keys
const LOOKUPS = new Map(); // "<Model>:uid:<uid>" / "<Model>:userCode:<code>" -> id
let writesSinceSweep = 0;
// Models that revokeByGrantId removes (the Adapter API's "grantable" ones).
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function sweepExpired() {
  const now = Date.now();
  for (const [key, entry] of STORE) {
    if (entry.expiresAt <= now) STORE.delete(key);
  }
  for (const [grantId, members] of GRANT_MEMBERS) {
    for (const key of members) if (!STORE.has(key)) members.delete(key);
    if (members.size === 0) GRANT_MEMBERS.delete(grantId);
  }
  for (const [lookup, id] of LOOKUPS) {
    if (!STORE.has(`${lookup.split(':')[0]}:${id}`)) LOOKUPS.delete(lookup);
  }
}

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  entry(id) {
    const key = this.key(id);
    const entry = STORE.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      STORE.delete(key);
      return undefined;
    }
    return entry;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const ttl = typeof expiresIn === 'number' ? (expiresIn + CLOCK_TOLERANCE) * 1000 : Infinity;
    STORE.set(key, { payload: structuredClone(payload), expiresAt: Date.now() + ttl });
    if (payload.grantId && GRANTABLE.has(this.model)) {
      if (!GRANT_MEMBERS.has(payload.grantId)) GRANT_MEMBERS.set(payload.grantId, new Set());
      GRANT_MEMBERS.get(payload.grantId).add(key);
    }
    if (payload.uid) LOOKUPS.set(`${this.model}:uid:${payload.uid}`, id);
    if (payload.userCode) LOOKUPS.set(`${this.model}:userCode:${payload.userCode}`, id);
    writesSinceSweep += 1;
    if (writesSinceSweep >= 500) {
      writesSinceSweep = 0;
      sweepExpired();
    }
  }

  async find(id) {
    const entry = this.entry(id);
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid) {
    const id = LOOKUPS.get(`${this.model}:uid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = LOOKUPS.get(`${this.model}:userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = this.entry(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    STORE.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of GRANT_MEMBERS.get(grantId) || []) STORE.delete(key);
    GRANT_MEMBERS.delete(grantId);
  }
}

// ---------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------

const DEFAULT_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'updated_at'],
  groups: ['groups'],
  roles: ['roles'],
};

function buildProvider(keys) {
  const provider = new Provider(ISSUER, {
    adapter: SharedMemoryAdapter,
    clients: structuredClone(CONFIG.clients),
    jwks: { keys: structuredClone(keys) },
    findAccount,
    acrValues: CONFIG.acrValues || [],
    // Pairwise subjects (client metadata subject_type "pairwise"): a different, stable `sub`
    // for the same person at each client's sector, as Entra ID and others issue.
    async pairwiseIdentifier(ctx, accountId, client) {
      return crypto.createHash('sha256')
        .update(`${ISSUER}\n${client.sectorIdentifier}\n${accountId}`)
        .digest('base64url');
    },
    subjectTypes: CONFIG.subjectTypes || ['public'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256'],
    },
    claims: { ...DEFAULT_CLAIMS, ...(CONFIG.claims || {}) },
    scopes: ['openid', 'offline_access', ...RESOURCE_SCOPES],
    responseTypes: ['code'],
    cookies: { keys: COOKIE_KEYS },
    clockTolerance: CLOCK_TOLERANCE,
    pkce: { required: () => true },
    interactions: {
      url: (ctx, interaction) => `${PREFIX}/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: async () => false,
        async getResourceServerInfo(ctx, resourceIndicator) {
          const rs = RESOURCES[resourceIndicator];
          if (!rs) throw new errors.InvalidTarget();
          return {
            scope: rs.scope,
            audience: resourceIndicator,
            accessTokenTTL: rs.accessTokenTTL || ACCESS_TOKEN_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: rs.alg || SIGNING_ALGS[0] } },
          };
        },
      },
    },
    ttl: {
      AccessToken: (ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
      ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 15 * 60,
      RefreshToken: SESSION_TTL,
      Session: SESSION_TTL,
      Grant: SESSION_TTL,
    },
    renderError,
  });
  provider.on('server_error', (ctx, err) => {
    console.error('dev-idp server_error:', err);
  });
  if (DEBUG) {
    for (const event of ['grant.error', 'authorization.error', 'end_session.error', 'userinfo.error']) {
      provider.on(event, (ctx, err) => console.error(`dev-idp ${event}: ${err.message} ${err.error_description || ''}`));
    }
  }
  return { provider, handler: provider.callback() };
}

let current = buildProvider(signingKeys);

// ---------------------------------------------------------------------------
// Interactions: login form, then automatic consent
// ---------------------------------------------------------------------------

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function clientName(provider, clientId) {
  const client = await provider.Client.find(clientId);
  return client?.clientName || clientId;
}

async function autoConsent(provider, interaction, req, res) {
  const { prompt: { details }, params, session, grantId } = interaction;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  if (details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const savedGrantId = await grant.save();
  const consent = grantId ? {} : { grantId: savedGrantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function handleInteraction(req, res, url) {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?\/?$/.exec(url.pathname);
  if (!match) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  const [, uid, action = ''] = match;
  const { provider } = current;

  let interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound) {
      return send(res, 400, page('Sign-in expired', `<h1>Sign-in expired</h1>
<p class="error" id="interaction-error">This sign-in has expired or was already used. Go back to the application and start again.</p>`));
    }
    throw err;
  }
  if (interaction.uid !== uid) {
    return send(res, 400, page('Sign-in mismatch', '<h1>Sign-in mismatch</h1><p class="error">This page does not belong to the current sign-in.</p>'));
  }

  const { prompt, params } = interaction;

  if (action === '/abort') {
    if (req.method !== 'GET' && req.method !== 'POST') return send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'));
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  if (action === '/login') {
    if (req.method !== 'POST') return send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'), { Allow: 'POST' });
    if (prompt.name !== 'login') {
      return send(res, 400, page('Unexpected step', '<h1>Unexpected step</h1><p class="error">Sign-in is not waiting for a password.</p>'));
    }
    const form = await readForm(req);
    const login = form.get('login') || '';
    const user = authenticate(login, form.get('password') || '');
    if (!user) {
      return send(res, 200, loginPage({
        uid, clientName: await clientName(provider, params.client_id), login, error: true,
      }));
    }
    const acr = user.acr || CONFIG.acr;
    return provider.interactionFinished(req, res, {
      login: { accountId: user.sub, amr: ['pwd'], ...(acr ? { acr } : {}) },
    }, { mergeWithLastSubmission: false });
  }

  if (req.method !== 'GET') return send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'), { Allow: 'GET' });
  if (prompt.name === 'login') {
    return send(res, 200, loginPage({
      uid, clientName: await clientName(provider, params.client_id), login: params.login_hint || '',
    }));
  }
  if (prompt.name === 'consent') {
    return autoConsent(provider, interaction, req, res);
  }
  return send(res, 501, page('Not implemented', `<h1>Prompt ${esc(prompt.name)} is not supported</h1>`));
}

// ---------------------------------------------------------------------------
// Test-only admin endpoint (IDP_TEST_ADMIN=1)
// ---------------------------------------------------------------------------

// A provider that hangs: requests to these paths (relative to the issuer, e.g. /token)
// wait, answering nothing, until /__admin/release. Counted per path for the tests.
const HANG_PATHS = new Set();
let waiting = [];
const COUNTS = new Map();

function hangUntilReleased(res) {
  return new Promise((resolve) => {
    const entry = { resolve, res };
    waiting.push(entry);
    res.on('close', () => {
      waiting = waiting.filter((w) => w !== entry);
      resolve(false);
    });
  });
}

async function handleAdmin(req, res, url) {
  if (url.pathname === '/__admin/hang' && req.method === 'POST') {
    for (const p of (url.searchParams.get('paths') || '').split(',').filter(Boolean)) HANG_PATHS.add(p);
    return sendJson(res, 200, { hanging_paths: [...HANG_PATHS] });
  }
  if (url.pathname === '/__admin/release' && req.method === 'POST') {
    HANG_PATHS.clear();
    const released = waiting.length;
    for (const w of waiting) w.resolve(true);
    waiting = [];
    return sendJson(res, 200, { released });
  }
  if (url.pathname === '/__admin/stats' && req.method === 'GET') {
    return sendJson(res, 200, { waiting: waiting.length, requests: Object.fromEntries(COUNTS) });
  }
  if (url.pathname === '/__admin/rotate' && req.method === 'POST') {
    // New keys sign from now on; the previous generation stays published
    // (for tokens already issued) unless ?retain=0.
    const retain = url.searchParams.get('retain') !== '0';
    const fresh = generateSigningKeys();
    signingKeys = [...fresh, ...(retain ? signingKeys.slice(0, SIGNING_ALGS.length) : [])];
    current = buildProvider(signingKeys);
    saveKeys(signingKeys);
    return sendJson(res, 200, {
      signing: fresh.map(({ kid, alg }) => ({ kid, alg })),
      published: signingKeys.map(({ kid }) => kid),
    });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

function refusesBasic(req) {
  const header = req.headers.authorization || '';
  if (!header.toLowerCase().startsWith('basic ')) return false;
  let clientId;
  try {
    clientId = decodeURIComponent(Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0]);
  } catch {
    return false;
  }
  const registered = CONFIG.clients.find((c) => String(c.client_id) === clientId);
  const method = registered?.token_endpoint_auth_method || 'client_secret_basic';
  return registered !== undefined && method !== 'client_secret_basic';
}

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  if (DEBUG) {
    res.on('finish', () => console.log(`${req.method} ${req.url} -> ${res.statusCode} ${Date.now() - started}ms`));
  }
  try {
    const full = new URL(req.url, 'http://dev-idp.invalid');
    if (TEST_ADMIN && full.pathname.startsWith('/__admin/')) return await handleAdmin(req, res, full);
    if (PREFIX && full.pathname !== PREFIX && !full.pathname.startsWith(`${PREFIX}/`)) {
      return send(res, 404, page('Not found', '<h1>Not found</h1>'));
    }
    const inner = full.pathname.slice(PREFIX.length) || '/';
    COUNTS.set(inner, (COUNTS.get(inner) || 0) + 1);
    if (HANG_PATHS.has(inner) && !(await hangUntilReleased(res))) return undefined;
    if (inner === '/token' && refusesBasic(req)) {
      // Strict, as Entra ID and AWS are: a client registered for client_secret_post (or a
      // key) may not authenticate with the Authorization header instead.
      res.writeHead(401, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      return res.end(JSON.stringify({
        error: 'invalid_client',
        error_description: 'client authentication method not allowed for this client',
      }));
    }
    // Mounted under the issuer's path: oidc-provider reads the mount from originalUrl.
    req.originalUrl = req.url;
    req.url = inner + full.search;
    const url = new URL(req.url, 'http://dev-idp.invalid');
    if (url.pathname.startsWith('/interaction/')) return await handleInteraction(req, res, url);
    return await current.handler(req, res);
  } catch (err) {
    console.error('dev-idp error:', err);
    if (!res.headersSent) {
      send(res, err.status || 500, page('Error', `<h1>Error</h1><p class="error">${esc(err.message)}</p>`));
    } else {
      res.end();
    }
  }
});

server.on('error', (err) => {
  console.error(`dev-idp: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});

// oidc-provider validates static clients lazily, on first use; check them
// all now so a bad config fails at start rather than mid-test.
for (const { client_id: clientId } of CONFIG.clients) {
  try {
    if (!await current.provider.Client.find(String(clientId))) throw new Error('not found');
  } catch (err) {
    fail(`client ${JSON.stringify(clientId)} is invalid: ${err.error_description || err.message}`);
  }
}

server.listen(PORT, HOST, () => {
  console.log(`dev-idp listening on ${ISSUER}`);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  if (DEBUG) console.log(`dev-idp: ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

// A harness that starts us with a pipe on stdin sets IDP_EXIT_ON_STDIN_EOF=1,
// so the provider goes away with its parent even if the parent is killed.
if (process.env.IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
