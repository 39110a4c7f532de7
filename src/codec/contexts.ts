/**
 * The two ways ops are written (see `OpWriteContext`):
 * - standalone: every part literal; wall times relative to the format epoch.
 * - batch: node ids, names and record ids interned on first use (index 0 = new literal,
 *   k = the k-th entry), sequence numbers as the gap from the same node's previous op, wall
 *   times as the difference from the previous op's.
 */
import type { NodeId } from '../identity/node-id.ts';
import { WALL_EPOCH_MS } from './constants.ts';
import { type Decoder, readVarInt, readVarUint } from './decoder.ts';
import { type Encoder, writeVarInt, writeVarUint } from './encoder.ts';
import { InternReader, InternWriter, readNodeLiteral, writeNodeLiteral } from './intern.ts';
import { readName, writeName } from './name.ts';
import type { OpReadContext, OpWriteContext } from './op-codec.ts';
import { readRecordIdBody, writeRecordIdBody } from './record-id.ts';

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
/** How many entries the interning tables of a context keep (a sync session bounds them). */
export interface InternCapacity {
  readonly nodes: number;
  readonly names: number;
  readonly records: number;
}

const UNBOUNDED: InternCapacity = { nodes: Number.POSITIVE_INFINITY, names: Number.POSITIVE_INFINITY, records: Number.POSITIVE_INFINITY };

export class BatchWriteContext implements OpWriteContext {
  readonly #nodes: InternWriter<NodeId>;
  readonly #names: InternWriter<string>;
  readonly #records: InternWriter<string>;
  readonly #lastSeq = new Map<string, number>();
  #lastWall = WALL_EPOCH_MS;

  constructor(capacity: InternCapacity = UNBOUNDED) {
    this.#nodes = new InternWriter(capacity.nodes);
    this.#names = new InternWriter(capacity.names);
    this.#records = new InternWriter(capacity.records);
  }

  writeNode(e: Encoder, node: NodeId): void {
    this.#nodes.write(e, node, writeNodeLiteral);
  }

  writeName(e: Encoder, name: string): void {
    this.#names.write(e, name, writeName);
  }

  writeRecord(e: Encoder, id: string, form: number): void {
    this.#records.write(e, id, (enc, key) => writeRecordIdBody(enc, key, form));
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
  readonly #nodes: InternReader<NodeId>;
  readonly #names: InternReader<string>;
  readonly #records: InternReader<string>;
  readonly #lastSeq = new Map<string, number>();
  #lastWall = WALL_EPOCH_MS;

  constructor(capacity: InternCapacity = UNBOUNDED) {
    this.#nodes = new InternReader(capacity.nodes);
    this.#names = new InternReader(capacity.names);
    this.#records = new InternReader(capacity.records);
  }

  readNode(d: Decoder): NodeId {
    return this.#nodes.read(d, readNodeLiteral, 'node');
  }

  readName(d: Decoder): string {
    return this.#names.read(d, readName, 'name');
  }

  readRecord(d: Decoder, form: number): string {
    return this.#records.read(d, (dec) => readRecordIdBody(dec, form), 'record');
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
