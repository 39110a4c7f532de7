/**
 * Authorship across hops (docs/relay.md, Authorship): a device signs runs of its own consecutive
 * ops with its Ed25519 key, one signature per run, so a peer that forwards them can prove who
 * wrote them and a relay judges them by their author's token, not the forwarder's.
 */
import { createHash } from 'node:crypto';
import { encodeOp } from '../codec/index.ts';
import type { Op } from '../ops/op.ts';
import { nodeIdFromPublicKey, verifySignature } from './identity.ts';
import type { NodeId } from './node-id.ts';

/** A run holds at most this many ops, so it travels in one frame. */
export const MAX_RUN_OPS = 256;
/** ...and about this many encoded bytes (at least one op, whatever its size). */
export const MAX_RUN_BYTES = 256 * 1024;

const DOMAIN = 'blazedb/ops-run/1';

/** A signature over ops first..last of one origin (every seq in between, none missing). */
export interface SignedRun {
  readonly node: NodeId;
  readonly first: number;
  readonly last: number;
  /** Ed25519, 64 bytes, over runDigest. */
  readonly signature: Uint8Array;
}

/** Who an origin is: its public key (the node id is derived from it) and the credentials it presents (its token). */
export interface Author {
  readonly node: NodeId;
  readonly publicKey: Uint8Array;
  readonly credentials: Uint8Array;
}

/**
 * What a run's signature covers: the database, the origin, the seq range and every op's
 * standalone encoding (length-prefixed), hashed. Undefined if `ops` are not one origin's
 * consecutive seqs.
 */
export function runDigest(dbId: string, ops: readonly Op[]): Uint8Array | undefined {
  const first = ops[0];
  if (!first) return undefined;
  const hash = createHash('sha256');
  hash.update(`${DOMAIN}\0${dbId}\0${first.node}\0${first.seq}\0${first.seq + ops.length - 1}\0`);
  const length = new Uint8Array(4);
  const view = new DataView(length.buffer);
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Op;
    if (op.node !== first.node || op.seq !== first.seq + i) return undefined;
    const bytes = encodeOp(op);
    view.setUint32(0, bytes.length);
    hash.update(length);
    hash.update(bytes);
  }
  return new Uint8Array(hash.digest());
}

/** Whether `run` is `author`'s signature of exactly these ops. */
export function verifyRun(dbId: string, author: Pick<Author, 'node' | 'publicKey'>, run: SignedRun, ops: readonly Op[]): boolean {
  if (run.node !== author.node || nodeIdFromPublicKey(author.publicKey) !== author.node) return false;
  if (ops.length !== run.last - run.first + 1 || ops[0]?.seq !== run.first) return false;
  const digest = runDigest(dbId, ops);
  return digest !== undefined && verifySignature(author.publicKey, digest, run.signature);
}

/**
 * Cuts an origin's consecutive ops into runs of at most MAX_RUN_OPS ops and about
 * MAX_RUN_BYTES bytes; a gap in seqs (a voided op) ends a run too.
 */
export function cutRuns(ops: readonly Op[], sizeOf: (op: Op) => number): Op[][] {
  const runs: Op[][] = [];
  let run: Op[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = sizeOf(op);
    const last = run.at(-1);
    if (last && (last.seq + 1 !== op.seq || run.length >= MAX_RUN_OPS || bytes + size > MAX_RUN_BYTES)) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(op);
    bytes += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
