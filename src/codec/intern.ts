/**
 * Interning within one encoding (a batch, a record state) or one stream of them (a sync
 * session): the first occurrence of a value is written as varint 0 then the literal; later ones
 * as its 1-based index. Decoders reject an index that refers to an entry not yet defined.
 * A table has a capacity both sides know: once full, literals are still written but no longer
 * remembered, by writer and reader alike, so a long stream cannot grow the tables without bound.
 */
import type { NodeId } from '../identity/node-id.ts';
import { NODE_ID_BYTES } from '../identity/node-id.ts';
import { toHex, writeHex } from '../util/hex.ts';
import { type Decoder, readVarUint } from './decoder.ts';
import { type Encoder, writeVarUint } from './encoder.ts';

export class InternWriter<K> {
  readonly #index = new Map<K, number>();
  readonly #capacity: number;

  constructor(capacity = Number.POSITIVE_INFINITY) {
    this.#capacity = capacity;
  }

  write(e: Encoder, key: K, writeLiteral: (e: Encoder, key: K) => void): void {
    const at = this.#index.get(key);
    if (at !== undefined) {
      writeVarUint(e, at);
      return;
    }
    if (this.#index.size < this.#capacity) this.#index.set(key, this.#index.size + 1);
    writeVarUint(e, 0);
    writeLiteral(e, key);
  }
}

export class InternReader<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;

  constructor(capacity = Number.POSITIVE_INFINITY) {
    this.#capacity = capacity;
  }

  read(d: Decoder, readLiteral: (d: Decoder) => T, what: string): T {
    const at = readVarUint(d);
    if (at > 0) return this.#items[at - 1] ?? d.fail(`${what} index ${at} not yet defined`);
    const item = readLiteral(d);
    if (this.#items.length < this.#capacity) this.#items.push(item);
    return item;
  }
}

/** A node id as its 8 raw bytes. */
export function writeNodeLiteral(e: Encoder, node: NodeId): void {
  e.ensure(NODE_ID_BYTES);
  writeHex(node, e.buf, e.pos);
  e.pos += NODE_ID_BYTES;
}

export function readNodeLiteral(d: Decoder): NodeId {
  d.need(NODE_ID_BYTES);
  const node = toHex(d.buf, d.pos, d.pos + NODE_ID_BYTES) as NodeId;
  d.pos += NODE_ID_BYTES;
  return node;
}
