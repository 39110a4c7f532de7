import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { base64url, importJWK, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { MAX_TOKEN_BYTES, type TokenRefusal, verifyDeviceToken } from '../../node/mesh/tokens.ts';
import type { TokenKey } from '../../relay/data-dir.ts';
import { issueDeviceToken, parseDuration } from '../../relay/token-issuer.ts';

const NOW = 1_900_000_000;
const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';
const OTHER_PEER = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';

function tokenKey(issuer = 'blaze-node/test'): TokenKey {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK;
  return { issuer, privateKey: jwk, publicKey: { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string } };
}

const key = tokenKey();
const check = { publicKey: key.publicKey, issuer: key.issuer, dbId: 'team', peerId: PEER, nowSeconds: NOW };

/** Signs claims with `key` as the relay would, but free to break any rule. */
async function forge(claims: Record<string, unknown>, options: { alg?: string; signWith?: Uint8Array | JWK } = {}) {
  const signer = options.signWith ?? key.privateKey;
  const secret = signer instanceof Uint8Array ? signer : await importJWK(signer, options.alg ?? 'EdDSA');
  return new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'EdDSA' }).sign(secret);
}

const valid = { iss: key.issuer, sub: 'ann', aud: 'team', exp: NOW + 3600, nbf: NOW - 10, jti: 'id-1', peer: PEER };

async function refusal(token: string | Uint8Array, overrides: Partial<typeof check> = {}): Promise<TokenRefusal> {
  try {
    await verifyDeviceToken(token, { ...check, ...overrides });
  } catch (err) {
    assert.equal((err as Error).name, 'TokenError');
    return (err as { reason: TokenRefusal }).reason;
  }
  assert.fail('the token was accepted');
}

describe('device tokens', () => {
  it('should accept a token the relay issued, with its claims, and bind to the peer it names', async () => {
    const token = await issueDeviceToken(key, {
      sub: 'ann',
      dbId: 'team',
      peer: PEER,
      claims: { role: 'admin' },
      ttlSeconds: 3600,
      nowSeconds: NOW,
    });
    const claims = await verifyDeviceToken(token, check);
    assert.equal(claims.sub, 'ann');
    assert.equal(claims.peer, PEER);
    assert.equal(claims.payload.role, 'admin');
    assert.equal(claims.expiresAt, NOW + 3600);
    // Without --peer the token names none: the relay binds it to the first presenter.
    const unbound = await issueDeviceToken(key, { sub: 'bob', dbId: 'team', ttlSeconds: 60, nowSeconds: NOW });
    assert.equal((await verifyDeviceToken(unbound, check)).peer, undefined);
  });

  it('should refuse every malformed, forged, misdirected or stale token, saying which check failed', async () => {
    const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK;
    const wrongKey = tokenKey();
    const { exp: _exp, ...noExp } = valid;
    const cases: [string, string | Uint8Array, TokenRefusal, Partial<typeof check>?][] = [
      ['none', '', 'missing'],
      ['unsigned (alg none)', new UnsecuredJWT(valid).encode(), 'algorithm'],
      ['signed with another key', await forge(valid, { signWith: wrongKey.privateKey }), 'signature'],
      // Key confusion: HS256 with the public key's bytes as the HMAC secret.
      [
        'HS256 with the public key',
        await forge(valid, { alg: 'HS256', signWith: base64url.decode(key.publicKey.x as string) }),
        'algorithm',
      ],
      ['ES256 (another algorithm)', await forge(valid, { alg: 'ES256', signWith: ecKey }), 'algorithm'],
      ['expired', await forge({ ...valid, exp: NOW - 120 }), 'expired'],
      ['no exp', await forge(noExp), 'claims'],
      ['not yet valid', await forge({ ...valid, nbf: NOW + 600 }), 'not-yet-valid'],
      ['another issuer', await forge({ ...valid, iss: 'someone-else' }), 'issuer'],
      ['another database', await forge({ ...valid, aud: 'other-db' }), 'audience'],
      ['another peer id', await forge({ ...valid, peer: OTHER_PEER }), 'peer'],
      ['oversize', `${await forge(valid)}${'A'.repeat(MAX_TOKEN_BYTES)}`, 'oversize'],
      ['garbage', 'not.a.jwt', 'malformed'],
      ['binary garbage', Uint8Array.of(0xff, 0x00, 0x2e, 0x2e), 'malformed'],
      ['no subject', await forge({ ...valid, sub: undefined }), 'claims'],
    ];
    for (const [name, token, expected, overrides] of cases) assert.equal(await refusal(token, overrides), expected, name);
    // Within the clock tolerance both ways: still valid.
    await verifyDeviceToken(await forge({ ...valid, exp: NOW - 30, nbf: NOW + 30 }), check);
  });

  it('should not let --claims override what the issuer sets, and parse durations strictly', async () => {
    for (const claim of ['sub', 'aud', 'exp', 'peer', 'iss'])
      await assert.rejects(issueDeviceToken(key, { sub: 'ann', dbId: 'team', claims: { [claim]: 'x' }, ttlSeconds: 60, nowSeconds: NOW }), {
        name: 'ValidationError',
      });
    await assert.rejects(issueDeviceToken(key, { sub: '', dbId: 'team', ttlSeconds: 60, nowSeconds: NOW }), { name: 'ValidationError' });
    await assert.rejects(issueDeviceToken(key, { sub: 'a', dbId: 'bad id!', ttlSeconds: 60, nowSeconds: NOW }), {
      name: 'ValidationError',
    });
    assert.equal(parseDuration('--ttl', '30d'), 30 * 86_400);
    assert.equal(parseDuration('--ttl', '90m'), 5_400);
    for (const bad of ['', '30', 'd', '-1d', '1.5h', '0s', '30 d'])
      assert.throws(() => parseDuration('--ttl', bad), { name: 'ValidationError' }, bad);
  });
});
