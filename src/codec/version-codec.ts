/**
 * Version vectors in BlazeBinary: varuint entry count, then per entry the origin's 8 raw id
 * bytes and its seq as a varuint. Sync messages (HELLO, ACK, GC, MEMBERS) carry them inline;
 * stores keep them as `0x13` payloads (docs/blazebinary.md, section 7).
 */
import { NODE_ID_BYTES, type NodeId } from '../identity/node-id.ts';
import { type Decoder, readLength, readVarUint } from './decoder.ts';
import { type Encoder, writeVarUint } from './encoder.ts';
import { readNodeLiteral, writeNodeLiteral } from './intern.ts';

export function writeVersion(e: Encoder, v: ReadonlyMap<NodeId, number>): void {
  writeVarUint(e, v.size);
  for (const [node, seq] of v) {
    writeNodeLiteral(e, node);
    writeVarUint(e, seq);
  }
}

export function readVersion(d: Decoder): Map<NodeId, number> {
  const n = readLength(d, NODE_ID_BYTES + 1);
  const v = new Map<NodeId, number>();
  for (let i = 0; i < n; i++) {
    const node = readNodeLiteral(d);
    if (v.has(node)) d.fail('version vector names a node twice');
    v.set(node, readVarUint(d));
  }
  return v;
}
