// A real OAuth 2.0 / OpenID Connect authorization server (oidc-provider) on loopback, for tests only.
//
// Usage: node provider.mjs <config.json>
//
// Config keys (see tests/oidc_provider.py, which writes this file):
//   port                 TCP port on 127.0.0.1; 0 picks a free one (reported in the issuer)
//   jwks                 the provider's private signing JWKS ({"keys": [...]}); absent/null -> one fresh RS256 key
//   clients              static client metadata, passed through to oidc-provider's `clients`
//   ttl                  e.g. {"ClientCredentials": 10, "AccessToken": 10} (seconds), passed through to `ttl`
//   initialAccessToken   string -> dynamic registration requires it as a bearer token; null -> open registration
//   resource             resource indicator (e.g. "urn:test:api"); tokens for it are RS256 JWTs with aud = resource
//   resourceScope        optional, space-delimited scopes the resource server accepts (default "api:read api:write")
//   clientDefaults       optional, merged over this server's client defaults (client_credentials only, no response types)
//   rotateRegistrationAccessToken  optional boolean for RFC 7592 updates (default true, the library default)
//   signIn               optional boolean: signing users in with the authorization code flow. Turns on the provider's
//                        own login and consent pages (devInteractions: any login name, any password), refresh tokens
//                        for every client allowed the refresh_token grant (no offline_access needed), rotated at
//                        each use (a reused one revokes the grant), signed userinfo, and the claims name,
//                        preferred_username and email (scopes profile, email); PAR and RP-initiated logout are on
//                        in every configuration (the library's defaults)
//   requirePushedAuthorizationRequests  optional boolean: every authorization request must be pushed (RFC 9126)
//
// Prints exactly one line "READY <issuer>" on stdout once listening; everything else goes to stderr.
// Test-only endpoints: GET /__test/stats, POST /__test/reset (token endpoint request counters).
// Test-only behaviour: dynamic registration takes the client_secret a registration request proposes, and issues
// UUIDs as client_ids.

import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// oidc-provider prints NOTICEs with console.info (stdout); stdout is reserved for the READY line.
console.log = console.error;
console.info = console.error;

const { default: Provider, errors } = await import('oidc-provider');

const TOKEN_PATH = '/token';
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function generateSigningJwks() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' }] };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Best-effort client_id of a token request, without authenticating it (failed requests count too). */
function tokenRequestClientId(req, body) {
  const authorization = req.headers.authorization ?? '';
  if (/^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const id = decoded.split(':', 1)[0];
    try {
      return decodeURIComponent(id.replace(/\+/g, ' '));
    } catch {
      return id;
    }
  }
  const params = new URLSearchParams(body.toString('utf8'));
  if (params.get('client_id')) return params.get('client_id');
  const assertion = params.get('client_assertion');
  if (assertion) {
    try {
      const claims = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url').toString('utf8'));
      if (typeof claims.sub === 'string') return claims.sub;
      if (typeof claims.iss === 'string') return claims.iss;
    } catch {
      // malformed assertion: fall through
    }
  }
  return '<unknown>';
}

function sendJson(res, status, payload) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(payload));
}

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const resource = config.resource ?? null;
const resourceScope = config.resourceScope ?? 'api:read api:write';
const signIn = config.signIn === true;

// What signing users in adds (see `signIn` above); nothing changes for the other configurations.
const signInOptions = signIn
  ? {
      claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
      findAccount: async (ctx, accountId) => ({
        accountId,
        claims: async () => ({
          sub: accountId,
          name: `User ${accountId}`,
          preferred_username: accountId,
          email: `${accountId}@example.test`,
        }),
      }),
      issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
    }
  : {};

const server = createServer();
const port = await listen(server, config.port ?? 0);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  jwks: config.jwks ?? generateSigningJwks(),
  clients: config.clients ?? [],
  ttl: config.ttl ?? { ClientCredentials: 600, AccessToken: 600 },
  // Registered clients default to the code flow; this server is about client_credentials.
  clientDefaults: {
    grant_types: ['client_credentials'],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    ...config.clientDefaults,
  },
  clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'],
  ...signInOptions,
  features: {
    devInteractions: { enabled: signIn },
    jwtUserinfo: { enabled: signIn },
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: config.requirePushedAuthorizationRequests === true,
    },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: config.initialAccessToken ?? false,
      // client_ids are UUIDs: oidc-provider's own may begin with '-', which a command line reads as an option.
      idFactory: () => randomUUID(),
      // A test may propose the secret of a client it registers (e.g. two clients sharing one, as static clients
      // can); without a proposal, a random secret as oidc-provider makes by default.
      secretFactory: (ctx) => {
        const proposed = ctx.method === 'POST' ? ctx.oidc.body?.client_secret : undefined;
        return typeof proposed === 'string' && proposed !== '' ? proposed : randomBytes(64).toString('base64url');
      },
    },
    registrationManagement: {
      enabled: true,
      rotateRegistrationAccessToken: config.rotateRegistrationAccessToken ?? true,
    },
    resourceIndicators: {
      enabled: true,
      // No resource named -> no resource server -> opaque token.
      defaultResource: async (ctx, client, oneOf) => oneOf ?? undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resource !== null && resourceIndicator === resource) {
          return {
            scope: resourceScope,
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        }
        throw new errors.InvalidTarget();
      },
    },
  },
  // The default dispatcher refuses loopback/private addresses (SSRF protection); client jwks_uri in
  // tests lives on 127.0.0.1, so loopback URLs are fetched without it.
  fetch: (url, options) => {
    if (LOOPBACK_HOSTS.has(new URL(url).hostname)) {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));

// oidc-provider validates static clients lazily (first use, surfacing as a vague invalid_client);
// validate them now so a bad test config fails at startup with the reason on stderr.
for (const { client_id: clientId } of config.clients ?? []) {
  try {
    await provider.Client.find(clientId);
  } catch (err) {
    console.error(`invalid static client ${JSON.stringify(clientId)}: ${err.error_description ?? err.message}`);
    process.exit(1);
  }
}

const tokenRequests = new Map();
const providerCallback = provider.callback();

server.on('request', async (req, res) => {
  try {
    const { pathname } = new URL(req.url, issuer);
    if (pathname === '/__test/stats' && req.method === 'GET') {
      let total = 0;
      for (const n of tokenRequests.values()) total += n;
      sendJson(res, 200, { token_requests: Object.fromEntries(tokenRequests), total });
      return;
    }
    if (pathname === '/__test/reset' && req.method === 'POST') {
      tokenRequests.clear();
      sendJson(res, 200, { token_requests: {}, total: 0 });
      return;
    }
    if (pathname === TOKEN_PATH && req.method === 'POST') {
      // The body is consumed here to read client_id; oidc-provider accepts a pre-read req.body.
      const body = await readBody(req);
      req.body = body;
      const clientId = tokenRequestClientId(req, body);
      tokenRequests.set(clientId, (tokenRequests.get(clientId) ?? 0) + 1);
    }
    await providerCallback(req, res);
  } catch (err) {
    console.error('request handling failed', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  }
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Set by tests/oidc_provider.py, which holds our stdin open: if the test process dies without
// stopping us (crash, SIGKILL), stdin hits EOF and we exit instead of lingering as an orphan.
if (process.env.OIDC_PROVIDER_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}

process.stdout.write(`READY ${issuer}\n`);
