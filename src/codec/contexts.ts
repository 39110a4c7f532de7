/**
 * The two ways ops are written (see `OpWriteContext`):
 * - standalone: every part literal; wall times relative to the format epoch.
 * - batch: node ids, names and record ids interned on first use (index 0 = new literal,
 *   k = the k-th entry), sequence numbers as the gap from the same node's previous op, wall
 *   times as the difference from the previous op's.
 */
import type { NodeId } from '../identity/node-id.ts';
import { NODE_ID_BYTES } from '../identity/node-id.ts';
import { toHex, writeHex } from '../util/hex.ts';
import { WALL_EPOCH_MS } from './constants.ts';
import { type Decoder, readVarInt, readVarUint } from './decoder.ts';
import { type Encoder, writeVarInt, writeVarUint } from './encoder.ts';
import { readName, writeName } from './name.ts';
import type { OpReadContext, OpWriteContext } from './op-codec.ts';
import { readRecordIdBody, writeRecordIdBody } from './record-id.ts';

function writeNodeLiteral(e: Encoder, node: NodeId): void {
  e.ensure(NODE_ID_BYTES);
  writeHex(node, e.buf, e.pos);
  e.pos += NODE_ID_BYTES;
}

function readNodeLiteral(d: Decoder): NodeId {
  d.need(NODE_ID_BYTES);
  const node = toHex(d.buf, d.pos, d.pos + NODE_ID_BYTES) as NodeId;
  d.pos += NODE_ID_BYTES;
  return node;
}

export const standaloneContext: OpWriteContext & OpReadContext = {
  writeNode: writeNodeLiteral,
  readNode: readNodeLiteral,
  writeName,
  readName,
  writeRecord: writeRecordIdBody,
  readRecord: readRecordIdBody,
  writeSeq: (e, _node, seq) => writeVarUint(e, seq),
  readSeq: (d) => readVarUint(d),
  writeWall: (e, wall) => writeVarInt(e, wall - WALL_EPOCH_MS),
  readWall: (d) => readVarInt(d) + WALL_EPOCH_MS,
};

/** Interning tables and deltas of one batch being written. Use one instance per batch. */
export class BatchWriteContext implements OpWriteContext {
  readonly #nodes = new Map<string, number>();
  readonly #names = new Map<string, number>();
  readonly #records = new Map<string, number>();
  readonly #lastSeq = new Map<string, number>();
  #lastWall = WALL_EPOCH_MS;

  writeNode(e: Encoder, node: NodeId): void {
    const index = this.#nodes.get(node);
    if (index !== undefined) {
      writeVarUint(e, index);
      return;
    }
    this.#nodes.set(node, this.#nodes.size + 1);
    writeVarUint(e, 0);
    writeNodeLiteral(e, node);
  }

  writeName(e: Encoder, name: string): void {
    const index = this.#names.get(name);
    if (index !== undefined) {
      writeVarUint(e, index);
      return;
    }
    this.#names.set(name, this.#names.size + 1);
    writeVarUint(e, 0);
    writeName(e, name);
  }

  writeRecord(e: Encoder, id: string, form: number): void {
    const index = this.#records.get(id);
    if (index !== undefined) {
      writeVarUint(e, index);
      return;
    }
    this.#records.set(id, this.#records.size + 1);
    writeVarUint(e, 0);
    writeRecordIdBody(e, id, form);
  }

  writeSeq(e: Encoder, node: NodeId, seq: number): void {
    const last = this.#lastSeq.get(node) ?? 0;
    writeVarInt(e, seq - last - 1);
    this.#lastSeq.set(node, seq);
  }

  writeWall(e: Encoder, wall: number): void {
    writeVarInt(e, wall - this.#lastWall);
    this.#lastWall = wall;
  }
}

/** Interning tables and deltas of one batch being read. */
export class BatchReadContext implements OpReadContext {
  readonly #nodes: NodeId[] = [];
  readonly #names: string[] = [];
  readonly #records: string[] = [];
  readonly #lastSeq = new Map<string, number>();
  #lastWall = WALL_EPOCH_MS;

  readNode(d: Decoder): NodeId {
    const index = readVarUint(d);
    if (index === 0) {
      const node = readNodeLiteral(d);
      this.#nodes.push(node);
      return node;
    }
    return this.#nodes[index - 1] ?? d.fail(`node index ${index} not yet defined`);
  }

  readName(d: Decoder): string {
    const index = readVarUint(d);
    if (index === 0) {
      const name = readName(d);
      this.#names.push(name);
      return name;
    }
    return this.#names[index - 1] ?? d.fail(`name index ${index} not yet defined`);
  }

  readRecord(d: Decoder, form: number): string {
    const index = readVarUint(d);
    if (index === 0) {
      const id = readRecordIdBody(d, form);
      this.#records.push(id);
      return id;
    }
    return this.#records[index - 1] ?? d.fail(`record index ${index} not yet defined`);
  }

  readSeq(d: Decoder, node: NodeId): number {
    const seq = (this.#lastSeq.get(node) ?? 0) + 1 + readVarInt(d);
    if (!Number.isSafeInteger(seq)) d.fail('sequence number out of range');
    this.#lastSeq.set(node, seq);
    return seq;
  }

  readWall(d: Decoder): number {
    const wall = this.#lastWall + readVarInt(d);
    this.#lastWall = wall;
    return wall;
  }
}
