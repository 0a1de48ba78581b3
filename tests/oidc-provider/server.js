// The upstream identity provider of Latchkey's social-login tests: panva's certified
// oidc-provider, on a loopback port of its own choosing (printed as "listening <port>").
//
// Test hooks beside the provider: POST /rotate (a new signing key) and POST /accounts/<sub>
// (new claims for an account).
//
// OP_CLIENTS: a JSON array of oidc-provider client metadata (client_id, client_secret,
// redirect_uris, ...). OP_ACCOUNTS: a JSON object of sub -> claims (the login name typed on the
// form is the sub); any other login name signs in as an account with an unverified address. devInteractions gives the login and consent
// forms (any password is accepted: the tests exercise Latchkey, not this provider's passwords).
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.OP_CLIENTS ?? '[]');
const accounts = JSON.parse(process.env.OP_ACCOUNTS ?? '{}');

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  // A provider with a signing key of its own: POST /rotate (a test hook, not oidc-provider's)
  // swaps in a new provider on the same issuer whose ID tokens carry a new `kid`, as a real
  // provider's key rotation looks to its relying parties.
  const make = () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
    const provider = new Provider(issuer, {
      clients,
      jwks: { keys: [jwk] },
      // Profile claims in the ID token itself, as Google's are (oidc-contract.md, part C).
      conformIdTokenClaims: false,
      claims: {
        openid: ['sub'],
        email: ['email', 'email_verified'],
        profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture'],
      },
      // The login name typed on the form is the account's `sub` (oidc-provider's accountId).
      async findAccount(ctx, id) {
        const claims = accounts[id] ?? { email: `${id}@example.org`, email_verified: false };
        return {
          accountId: id,
          async claims() {
            return { ...claims, sub: id };
          },
        };
      },
      features: { devInteractions: { enabled: true } },
      cookies: { keys: ['latchkey-test-cookie-key'] },
    });
    // Plain http on loopback: tell oidc-provider the test's requests are what they look like.
    provider.proxy = true;
    return provider.callback();
  };
  let current = make();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url === '/rotate') {
      current = make();
      res.end('rotated');
      return;
    }
    // Another test hook: POST /accounts/<sub> with the account's new claims (a person changes
    // their address at the provider).
    const changed = req.method === 'POST' && req.url.match(/^\/accounts\/([^/]+)$/);
    if (changed) {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        accounts[decodeURIComponent(changed[1])] = JSON.parse(body);
        res.end('changed');
      });
      return;
    }
    current(req, res);
  });
  console.log(`listening ${port}`);
});
