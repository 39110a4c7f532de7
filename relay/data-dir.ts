/**
 * A relay's data directory: its keys and, under dbs/, one store per database it serves.
 *
 *   DIR/identity.key      the Ed25519 seed of its libp2p identity (hex; its peer id, and the
 *                         node id of every store it holds)
 *   DIR/token-key.json    the Ed25519 key device tokens are signed with, and the issuer name
 *   DIR/relay.sqlite      token bindings (relay/bindings.ts)
 *   DIR/dbs/<dbId>/       a BlazeDB store per database
 *
 * Two keys, not one: the token key can be shared by several relays of a deployment (so a
 * token works on any of them) while each keeps its own identity.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { JWK } from 'jose';
import { AlreadyInitializedError, NotInitializedError, RelayConfigError } from './errors.ts';

const IDENTITY_FILE = 'identity.key';
const TOKEN_KEY_FILE = 'token-key.json';

export interface TokenKey {
  readonly issuer: string;
  /** Ed25519 private key as a JWK (has `d`). */
  readonly privateKey: JWK;
  readonly publicKey: JWK;
}

export interface RelayKeys {
  readonly dir: string;
  readonly identitySeed: Uint8Array;
  readonly peerId: string;
  readonly tokenKey: TokenKey;
}

export function databasesDir(dir: string): string {
  return join(dir, 'dbs');
}

/** Creates the keys in `dir` (made if missing). Refuses a directory that already has them. */
export async function initDataDir(dir: string, options: { tokenKeyFrom?: string } = {}): Promise<RelayKeys> {
  if (existsSync(join(dir, IDENTITY_FILE)) || existsSync(join(dir, TOKEN_KEY_FILE))) throw new AlreadyInitializedError(dir);
  mkdirSync(databasesDir(dir), { recursive: true, mode: 0o700 });
  const seed = new Uint8Array(randomBytes(32));
  const peerId = await peerIdOfSeed(seed);
  // Another relay's token key: tokens it issued are valid here too (one deployment).
  const tokenKey = options.tokenKeyFrom !== undefined ? readTokenKey(options.tokenKeyFrom) : newTokenKey(`blaze-node/${peerId}`);
  writeSecret(join(dir, IDENTITY_FILE), `${Buffer.from(seed).toString('hex')}\n`);
  writeSecret(join(dir, TOKEN_KEY_FILE), `${JSON.stringify({ issuer: tokenKey.issuer, key: tokenKey.privateKey }, null, 2)}\n`);
  return { dir, identitySeed: seed, peerId, tokenKey };
}

/** Reads the keys of an initialized data directory. */
export async function loadDataDir(dir: string): Promise<RelayKeys> {
  const identityFile = join(dir, IDENTITY_FILE);
  if (!existsSync(identityFile)) throw new NotInitializedError(dir, IDENTITY_FILE);
  const hex = readFileSync(identityFile, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new RelayConfigError(identityFile, 'not a 32-byte hex seed');
  const seed = new Uint8Array(Buffer.from(hex, 'hex'));
  mkdirSync(databasesDir(dir), { recursive: true, mode: 0o700 });
  return { dir, identitySeed: seed, peerId: await peerIdOfSeed(seed), tokenKey: readTokenKey(dir) };
}

function readTokenKey(dir: string): TokenKey {
  const file = join(dir, TOKEN_KEY_FILE);
  if (!existsSync(file)) throw new NotInitializedError(dir, TOKEN_KEY_FILE);
  let parsed: { issuer?: unknown; key?: JWK };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new RelayConfigError(file, `not JSON: ${(err as Error).message}`);
  }
  const key = parsed.key;
  if (typeof parsed.issuer !== 'string' || parsed.issuer.length === 0) throw new RelayConfigError(file, 'no issuer');
  if (key?.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.d !== 'string' || typeof key.x !== 'string')
    throw new RelayConfigError(file, 'key is not an Ed25519 private JWK');
  return { issuer: parsed.issuer, privateKey: key, publicKey: { kty: 'OKP', crv: 'Ed25519', x: key.x } };
}

function newTokenKey(issuer: string): TokenKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { issuer, privateKey: jwk, publicKey: { kty: 'OKP', crv: 'Ed25519', x: jwk.x as string } };
}

export async function peerIdOfSeed(seed: Uint8Array): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPairFromSeed('Ed25519', seed)).toString();
}

/** Written readable by the owner only, never over an existing file. */
function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
}
