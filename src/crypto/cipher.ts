/**
 * The encrypting `PayloadCipher`: seals with the current data key, opens with whichever key a
 * payload names. AES-GCM with random 96-bit nonces is safe for about 2^32 messages per key, so
 * uses are counted (persisted with each commit) and a new data key is made well before that.
 */
import { Decoder, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeVarUint } from '../codec/encoder.ts';
import type { Random } from '../runtime.ts';
import type { Storage } from '../storage/index.ts';
import { open, seal, sealedKeyId } from './aead.ts';
import { TamperedDataError, WrongKeyError } from './errors.ts';
import type { PayloadCipher } from './payload-cipher.ts';

/** New data key after this many seals: 2^31, half the 2^32 bound for random GCM nonces. */
export const DEFAULT_ROTATE_AFTER = 2 ** 31;

const META_CURRENT = 'dek_current';
const META_USES = 'dek_uses';
const dekMeta = (id: number) => `dek:${id}`;
const dekAad = (id: number) => `dek:${id}`;

function encodeCount(n: number): Uint8Array {
  const e = new Encoder(10);
  writeVarUint(e, n);
  return e.finish();
}

export interface EncryptingCipherInit {
  storage: Storage;
  kek: Uint8Array;
  random: Random;
  rotateAfter?: number;
}

export class EncryptingCipher implements PayloadCipher {
  readonly encrypted = true;
  readonly #storage: Storage;
  readonly #kek: Uint8Array;
  readonly #random: Random;
  readonly #rotateAfter: number;
  readonly #keys = new Map<number, Uint8Array>();
  #current = 0;
  #uses = 0;
  #usesDirty = false;

  private constructor(init: EncryptingCipherInit) {
    this.#storage = init.storage;
    this.#kek = init.kek;
    this.#random = init.random;
    this.#rotateAfter = init.rotateAfter ?? DEFAULT_ROTATE_AFTER;
  }

  /** Sets up a new encrypted store: its first data key (inside the caller's transaction). */
  static create(init: EncryptingCipherInit): EncryptingCipher {
    const c = new EncryptingCipher(init);
    c.#newDataKey(1);
    return c;
  }

  /** Opens an existing store's keys; WrongKeyError if the key does not unwrap them. */
  static load(init: EncryptingCipherInit): EncryptingCipher {
    const c = new EncryptingCipher(init);
    c.reload();
    c.#key(c.#current); // fails now, before anything is written, if the key is wrong
    return c;
  }

  reload(afterRollback = true): void {
    const current = this.#storage.getMeta(META_CURRENT);
    if (!current) throw new TamperedDataError('the store is marked encrypted but holds no data key');
    this.#current = readVarUint(new Decoder(current));
    const uses = this.#storage.getMeta(META_USES);
    this.#uses = uses ? readVarUint(new Decoder(uses)) : 0;
    this.#usesDirty = false;
    // Stored keys never change, but one made in a rolled-back transaction must not be used
    // (another process may store a different key under its id): unwrap again on demand.
    if (afterRollback) this.#keys.clear();
  }

  seal(aad: string, plain: Uint8Array): Uint8Array {
    if (this.#uses >= this.#rotateAfter) this.#newDataKey(this.#current + 1);
    this.#uses++;
    this.#usesDirty = true;
    return seal(this.#key(this.#current), this.#current, aad, plain, this.#random);
  }

  open(aad: string, sealed: Uint8Array): Uint8Array {
    return open(this.#key(sealedKeyId(sealed)), aad, sealed);
  }

  /** Persists the use count; called inside each write transaction. */
  flush(): void {
    if (!this.#usesDirty) return;
    this.#storage.setMeta(META_USES, encodeCount(this.#uses));
    this.#usesDirty = false;
  }

  /** Number of data keys made so far (rotation test and stats). */
  get keyCount(): number {
    return this.#current;
  }

  #newDataKey(id: number): void {
    const dek = this.#random.bytes(32);
    this.#storage.setMeta(dekMeta(id), seal(this.#kek, 0, dekAad(id), dek, this.#random));
    this.#storage.setMeta(META_CURRENT, encodeCount(id));
    this.#keys.set(id, dek);
    this.#current = id;
    this.#uses = 0;
    this.#usesDirty = true;
  }

  #key(id: number): Uint8Array {
    let key = this.#keys.get(id);
    if (key) return key;
    const wrapped = this.#storage.getMeta(dekMeta(id));
    if (!wrapped) throw new TamperedDataError(`payload names data key ${id}, which the store does not hold`);
    try {
      key = open(this.#kek, dekAad(id), wrapped);
    } catch {
      throw new WrongKeyError();
    }
    this.#keys.set(id, key);
    return key;
  }
}
