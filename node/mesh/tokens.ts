/**
 * Device tokens: JWTs that a relay (`blaze-node token`) signs with its Ed25519 token key and
 * every node checks the same way, the relay on each session and LAN peers offline with the
 * relay's public key (which is why the algorithm is EdDSA, not a shared HMAC secret).
 *
 * A token says: issuer `iss` (the relay), audience `aud` = the database id, subject `sub` = the
 * user, optionally `peer` = the one libp2p peer id that may present it, `exp`/`nbf`, an id
 * `jti`, and the app's own claims (`role`, ...) that rules read as `auth.<name>`. A token
 * without `peer` is bound to the first peer id that presents it (see relay/bindings.ts), so a
 * stolen token cannot be used from another key either way.
 */
import { CompactSign, compactVerify, errors, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { BlazeError } from '../../src/errors.ts';
import { Rules } from '../../src/rules/index.ts';

/** Protocol on which a relay tells peers how to check device tokens offline (ask.ts). */
export const RELAY_INFO_PROTOCOL = '/blazedb/relay-info/1';

/** Tokens longer than this are refused unread (a token rides in every HELLO). */
export const MAX_TOKEN_BYTES = 4_096;
/** Clock skew allowed on exp and nbf. */
export const TOKEN_CLOCK_TOLERANCE_S = 60;
/** Claims a token's issuer sets; `--claims` may not override them. */
export const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'peer', 'use'] as const;

/**
 * What a token is for: `sync` (a device's, the default) or `query` (the relay's HTTP query
 * endpoint: not bound to a peer id, since HTTP proves no key, and refused for sync, so a
 * leaked query token cannot write).
 */
export type TokenUse = 'sync' | 'query';

/** What a verified token grants. */
export interface DeviceClaims {
  readonly sub: string;
  readonly dbId: string;
  readonly tokenId: string;
  /** The peer id the token names, when it names one. */
  readonly peer?: string;
  readonly use: TokenUse;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  /** Every claim, for rules (`auth.role`, ...). */
  readonly payload: Readonly<Record<string, unknown>>;
}

export type TokenRefusal =
  | 'missing'
  | 'oversize'
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'not-yet-valid'
  | 'issuer'
  | 'audience'
  | 'claims'
  | 'peer';

/** A token was refused; `reason` says which check failed (for metrics and logs). */
export class TokenError extends BlazeError {
  override name = 'TokenError';
  readonly reason: TokenRefusal;
  constructor(reason: TokenRefusal, message: string) {
    super(`token refused (${reason}): ${message}`);
    this.reason = reason;
  }
}

export interface TokenCheck {
  /** The relay's public token key (an Ed25519 JWK). */
  publicKey: JWK;
  issuer: string;
  /** The database the session is for: the token's audience. */
  dbId: string;
  /** The libp2p peer id of the connection that presented the token (none for a query token). */
  peerId?: string;
  /** What the token must be for (default sync). */
  use?: TokenUse;
  /** Injected clock (seconds since the epoch), for tests. */
  nowSeconds?: number;
}

const ALGORITHMS = ['EdDSA'];

/** Checks `token` (see the module comment); throws TokenError naming the failed check. */
export async function verifyDeviceToken(token: string | Uint8Array, check: TokenCheck): Promise<DeviceClaims> {
  const text = typeof token === 'string' ? token : new TextDecoder().decode(token);
  if (text.length === 0) throw new TokenError('missing', 'no token was given');
  if (text.length > MAX_TOKEN_BYTES) throw new TokenError('oversize', `${text.length} bytes, at most ${MAX_TOKEN_BYTES}`);
  const key = await importJWK(check.publicKey, 'EdDSA');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(text, key, {
      algorithms: ALGORITHMS,
      issuer: check.issuer,
      audience: check.dbId,
      clockTolerance: TOKEN_CLOCK_TOLERANCE_S,
      requiredClaims: ['exp', 'sub', 'jti'],
      ...(check.nowSeconds !== undefined ? { currentDate: new Date(check.nowSeconds * 1000) } : {}),
    }));
  } catch (err) {
    throw refusal(err);
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new TokenError('claims', 'sub is not a user name');
  if (typeof payload.jti !== 'string' || payload.jti.length === 0) throw new TokenError('claims', 'jti is not a token id');
  const use = payload.use ?? 'sync';
  const wanted = check.use ?? 'sync';
  if (use !== wanted) throw new TokenError('claims', `a token for ${String(use)} cannot be used for ${wanted}`);
  const peer = payload.peer;
  if (peer !== undefined && typeof peer !== 'string') throw new TokenError('claims', 'peer is not a peer id');
  if (peer !== undefined && peer !== check.peerId) throw new TokenError('peer', `issued to peer ${peer}, presented by ${check.peerId}`);
  if (wanted === 'sync' && check.peerId === undefined) throw new TokenError('peer', 'a sync token is presented by a peer');
  return {
    sub: payload.sub,
    dbId: check.dbId,
    tokenId: payload.jti,
    use: wanted,
    ...(peer !== undefined ? { peer } : {}),
    expiresAt: payload.exp as number,
    payload,
  };
}

/** Whether `text` has the shape of a JWT (three base64url parts), not a shared secret. */
export function looksLikeJwt(text: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text);
}

function refusal(err: unknown): TokenError {
  const message = (err as Error).message;
  if (err instanceof errors.JWTExpired) return new TokenError('expired', message);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return new TokenError('not-yet-valid', message);
    if (err.claim === 'iss') return new TokenError('issuer', message);
    if (err.claim === 'aud') return new TokenError('audience', message);
    return new TokenError('claims', message);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return new TokenError('algorithm', message);
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('signature', message);
  return new TokenError('malformed', message);
}

/** Largest signed rules document a peer takes from a relay. */
export const MAX_RULES_BYTES = 256 * 1024;

/**
 * The relay's read rules signed with its token key (a JWS, EdDSA), for LAN peers to enforce when
 * they serve each other: they take rules only with the relay's signature.
 */
export async function signRules(rules: Rules, key: { issuer: string; privateKey: JWK }): Promise<string> {
  const payload = new TextEncoder().encode(JSON.stringify({ iss: key.issuer, rules: rules.spec }));
  return new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA' }).sign(await importJWK(key.privateKey, 'EdDSA'));
}

/** Checks rules a relay signed (signRules) against its token key; throws TokenError or RulesError. */
export async function verifyRules(signed: string, trust: { issuer: string; tokenKey: JWK }): Promise<Rules> {
  if (signed.length > MAX_RULES_BYTES)
    throw new TokenError('oversize', `signed rules of ${signed.length} bytes, at most ${MAX_RULES_BYTES}`);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(signed, await importJWK(trust.tokenKey, 'EdDSA'), { algorithms: ALGORITHMS }));
  } catch (err) {
    throw refusal(err);
  }
  let parsed: { iss?: unknown; rules?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new TokenError('malformed', 'signed rules are not JSON');
  }
  if (parsed.iss !== trust.issuer) throw new TokenError('issuer', `rules signed for issuer ${String(parsed.iss)}`);
  return Rules.parse(parsed.rules);
}
