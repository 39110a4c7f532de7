/**
 * Issues device tokens (`blaze-node token`): EdDSA JWTs that node/mesh/tokens.ts verifies.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import { MAX_TOKEN_BYTES, RESERVED_CLAIMS } from '../node/mesh/tokens.ts';
import { validateDbId } from '../src/db/index.ts';
import { ValidationError } from '../src/errors.ts';
import type { TokenKey } from './data-dir.ts';

export interface TokenRequest {
  sub: string;
  dbId: string;
  /** Bind the token to this libp2p peer id (otherwise: to the first one that presents it). */
  peer?: string;
  /** The app's own claims (`{"role":"admin"}`), read by rules as auth.<name>. */
  claims?: Record<string, unknown>;
  /** A token for the relay's HTTP query endpoint instead of sync (node/mesh/tokens.ts TokenUse). */
  query?: boolean;
  ttlSeconds: number;
  /** Injected clock, seconds since the epoch. */
  nowSeconds: number;
}

export async function issueDeviceToken(key: TokenKey, request: TokenRequest): Promise<string> {
  if (typeof request.sub !== 'string' || request.sub.length === 0 || request.sub.length > 256)
    throw new ValidationError('sub', 'a user name of 1-256 characters');
  validateDbId(request.dbId);
  if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds <= 0) throw new ValidationError('ttl', 'a positive whole duration');
  const claims = request.claims ?? {};
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new ValidationError('claims', 'a JSON object');
  for (const name of RESERVED_CLAIMS) if (name in claims) throw new ValidationError(`claims.${name}`, 'set by the issuer, not by --claims');
  if (request.query && request.peer !== undefined) throw new ValidationError('peer', 'a query token is bound to no peer');
  const token = await new SignJWT({
    ...claims,
    ...(request.peer !== undefined ? { peer: request.peer } : {}),
    ...(request.query ? { use: 'query' } : {}),
  })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(key.issuer)
    .setSubject(request.sub)
    .setAudience(request.dbId)
    .setIssuedAt(request.nowSeconds)
    .setNotBefore(request.nowSeconds)
    .setExpirationTime(request.nowSeconds + request.ttlSeconds)
    .setJti(randomUUID())
    .sign(await importJWK(key.privateKey, 'EdDSA'));
  if (token.length > MAX_TOKEN_BYTES)
    throw new ValidationError('claims', `the token would be ${token.length} bytes, at most ${MAX_TOKEN_BYTES}`);
  return token;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** "30d", "12h", "90m", "45s" or "2w" as seconds. */
export function parseDuration(option: string, text: string): number {
  const match = /^(\d{1,9})([smhdw])$/.exec(text);
  if (!match) throw new ValidationError(option, `a duration like 30d, 12h, 90m or 45s, not '${text}'`);
  const seconds = Number(match[1]) * (UNITS[match[2] as string] as number);
  if (seconds <= 0) throw new ValidationError(option, 'a positive duration');
  return seconds;
}
