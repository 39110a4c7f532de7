/**
 * Opening a store: choosing and opening its storage, checking its encryption against how it
 * was created, and loading (or creating) its database id and device identity. Nothing is
 * written before every check has passed.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClockSkewEvent } from '../clock/hlc.ts';
import {
  decodeKdfParams,
  deriveKek,
  EncryptingCipher,
  type EncryptionOptions,
  encodeKdfParams,
  KeyRequiredError,
  NotEncryptedError,
  newKdfParams,
} from '../crypto/index.ts';
import { type PayloadCipher, plaintext } from '../crypto/payload-cipher.ts';
import { ValidationError } from '../errors.ts';
import type { GcOptions } from '../gc/options.ts';
import { identityFromSeed } from '../identity/identity.ts';
import { startCheckpointer } from '../platform/checkpointer.ts';
import type { Random, Scheduler, WallClock } from '../runtime.ts';
import { type Durability, MemoryStorage, NotABlazeStoreError, SqliteStorage, type Storage } from '../storage/index.ts';
import { toHex } from '../util/hex.ts';
import { DatabaseIdMismatchError, IdentityMismatchError } from './errors.ts';

/** The file inside a store directory that holds the SQLite database. */
export const STORE_FILE = 'blaze.db';

export interface OpenOptions {
  /** Store directory (created if missing). Without it the database lives in memory. */
  path?: string;
  /** Storage engine: SQLite when a path is given, memory otherwise, or your own `Storage`. */
  storage?: 'sqlite' | 'memory' | Storage;
  /**
   * What `local-durable` survives. 'process' (default): a kill -9 of the process; the last
   * commits may roll back on power loss. 'power': every commit is fsynced first.
   */
  durability?: Durability;
  /** The database id sync and tokens name. Given when creating; must match when reopening. */
  dbId?: string;
  /** Create the store if it does not exist (default true). */
  create?: boolean;
  /** Injected wall clock (default: the system clock). */
  wallClock?: WallClock;
  /** Injected randomness (default: the system CSPRNG). */
  random?: Random;
  /** How far remote stamps may pull this node's clock ahead (default 5 minutes). */
  maxDriftMs?: number;
  /** A remote op stamped far in the future was applied. */
  onClockSkew?: (event: ClockSkewEvent) => void;
  /**
   * Encrypt stored payloads (AES-256-GCM) with a 32-byte key or a passphrase. Chosen when the
   * store is created; reopening needs the same key. See docs/encryption.md.
   */
  encryption?: EncryptionOptions;
  /** Errors thrown by subscribers land here (default: console.error). */
  onError?: (err: unknown) => void;
  /** Distributed GC: home relay or not, eviction, history retention, schedule (docs/gc.md). */
  gc?: GcOptions;
  /** Injected timers for background work (default: real timers). */
  scheduler?: Scheduler;
  /**
   * The 32-byte Ed25519 seed of this node's identity, instead of a new random one: a relay
   * gives every database it serves its own key (peers check that a node id is the one its
   * connection key names). Only when creating; reopening with another seed is an error.
   */
  identitySeed?: Uint8Array;
}

/** Every option `open` knows: any other name is a mistake (a typo, or a `filter`, which is enableSync's). */
const OPEN_OPTIONS: ReadonlySet<string> = new Set<keyof OpenOptions>([
  'path',
  'storage',
  'durability',
  'dbId',
  'create',
  'wallClock',
  'random',
  'maxDriftMs',
  'onClockSkew',
  'encryption',
  'onError',
  'gc',
  'scheduler',
  'identitySeed',
]);

/** Throws a ValidationError naming the first option `open` does not know. */
export function checkOpenOptionNames(options: object): void {
  const unknown = Object.keys(options).find((name) => !OPEN_OPTIONS.has(name));
  if (unknown !== undefined) throw new ValidationError(`options.${unknown}`, `unknown option (known: ${[...OPEN_OPTIONS].join(', ')})`);
}

const META_DB_ID = 'db_id';
export const META_IDENTITY = 'identity';
const DB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function validateDbId(dbId: unknown): asserts dbId is string {
  if (typeof dbId !== 'string' || !DB_ID_PATTERN.test(dbId)) {
    throw new ValidationError(
      'dbId',
      'a database id is 1-128 characters of letters, digits, ".", "_" and "-", starting with a letter or digit',
    );
  }
}

export function openStorage(options: OpenOptions): Storage {
  const kind = options.storage ?? (options.path !== undefined ? 'sqlite' : 'memory');
  if (typeof kind === 'object') return kind;
  if (kind === 'memory') return new MemoryStorage();
  if (kind !== 'sqlite') throw new ValidationError('storage', "storage is 'sqlite', 'memory' or a Storage");
  if (typeof options.path !== 'string' || options.path.length === 0)
    throw new ValidationError('path', 'a SQLite store needs a directory path');
  let isDir = false;
  try {
    isDir = statSync(options.path).isDirectory();
  } catch {
    if (options.create === false) throw new NotABlazeStoreError(`no BlazeDB store in ${options.path}`);
    mkdirSync(options.path, { recursive: true });
    isDir = true;
  }
  if (!isDir) throw new NotABlazeStoreError(`${options.path} is a file; a BlazeDB store is a directory`);
  const file = join(options.path, STORE_FILE);
  if (options.create === false && !existsSync(file)) throw new NotABlazeStoreError(`no BlazeDB store in ${options.path}`);
  return new SqliteStorage({ path: file, durability: options.durability ?? 'process', checkpointer: startCheckpointer });
}

const META_CRYPTO = 'crypto';

/** Plaintext, or the store's encryption: checked against what the store was created with. */
export function setUpCipher(storage: Storage, encryption: EncryptionOptions | undefined, random: Random): PayloadCipher {
  const isNew = storage.getMeta(META_DB_ID) === undefined;
  const stored = storage.getMeta(META_CRYPTO);
  if (!isNew && !stored) {
    if (encryption) throw new NotEncryptedError();
    return plaintext;
  }
  if (!encryption) {
    if (stored) throw new KeyRequiredError();
    return plaintext;
  }
  const rotate = encryption.rotateAfter !== undefined ? { rotateAfter: encryption.rotateAfter } : {};
  if (stored) {
    const params = decodeKdfParams(stored);
    return EncryptingCipher.load({ storage, kek: deriveKek(encryption, params), random, ...rotate });
  }
  const params = newKdfParams(encryption, random);
  storage.setMeta(META_CRYPTO, encodeKdfParams(params));
  return EncryptingCipher.create({ storage, kek: deriveKek(encryption, params), random, ...rotate });
}

export function loadOrCreateIdentity(
  storage: Storage,
  cipher: PayloadCipher,
  random: Random,
  askedDbId: string | undefined,
  seed: Uint8Array | undefined,
) {
  const storedId = storage.getMeta(META_DB_ID);
  if (storedId) {
    const dbId = fromUtf8.decode(storedId);
    if (askedDbId !== undefined && askedDbId !== dbId) throw new DatabaseIdMismatchError(dbId, askedDbId);
    const stored = storage.getMeta(META_IDENTITY);
    if (!stored) throw new NotABlazeStoreError('the store has a database id but no identity: it is damaged');
    const identity = identityFromSeed(cipher.open('identity', stored));
    if (seed !== undefined && identityFromSeed(seed).nodeId !== identity.nodeId) throw new IdentityMismatchError(identity.nodeId);
    return { dbId, identity };
  }
  const dbId = askedDbId ?? toHex(random.bytes(16));
  const identity = identityFromSeed(seed ?? random.bytes(32));
  storage.setMeta(META_DB_ID, utf8.encode(dbId));
  storage.setMeta(META_IDENTITY, cipher.seal('identity', identity.seed));
  return { dbId, identity };
}
