/**
 * Sync protocol messages and their BlazeBinary frames. Layouts: docs/protocol.md.
 * A frame is one message: a type byte, then its body.
 */

import { crc32 } from '../codec/crc32.ts';
import { Decoder, readByte, readBytes, readLength, readRaw, readString, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeByte, writeBytes, writeRaw, writeString, writeVarUint } from '../codec/encoder.ts';
import { type BatchReadContext, type BatchWriteContext, compressBlock, decodeBatch, decompressBlock, encodeBatch } from '../codec/index.ts';
import { readNodeLiteral, writeNodeLiteral } from '../codec/intern.ts';
import { readValue, writeValue } from '../codec/value-codec.ts';
import { readVersion, writeVersion } from '../codec/version-codec.ts';
import { DecodeError } from '../errors.ts';
import { nodeIdFromPublicKey } from '../identity/identity.ts';
import type { NodeId } from '../identity/node-id.ts';
import { MAX_RUN_OPS, type SignedRun } from '../identity/run-signature.ts';
import type { Op } from '../ops/op.ts';
import type { Value } from '../values/value.ts';
import { LZ4_MIN_BYTES, MAX_CREDENTIALS_BYTES, MAX_DUPLICATE_ORIGINS, MAX_RECORD_REFS } from './constants.ts';
import { FilterError, SyncFilter } from './filter.ts';

export type Role = 'peer' | 'relay';
export type AckLevel = 'local-durable' | 'relay-durable';
/** A version vector on the wire: origin -> highest contiguous seq. */
export type WireVersion = ReadonlyMap<NodeId, number>;

export interface Hello {
  readonly type: 'hello';
  readonly major: number;
  readonly minor: number;
  readonly dbId: string;
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly version: WireVersion;
  /** Opaque to the protocol: the authorizer reads it (a JWT with the relay). */
  readonly credentials: Uint8Array;
  /** A partial replica's selective-sync filter (absent: a full replica). */
  readonly filter?: SyncFilter;
}

export interface OpsMessage {
  readonly type: 'ops';
  readonly ops: readonly Op[];
  /**
   * Signatures of the runs these ops belong to (1.4, device to partial device): in the same
   * frame as the ops, so a receiver that holds the ops holds what proves who wrote them.
   */
  readonly runs?: readonly SignedRun[];
}

export interface Ack {
  readonly type: 'ack';
  readonly level: AckLevel;
  readonly version: WireVersion;
  /**
   * `version` holds only the entries that moved since the sender's previous ACK on this
   * session (the receiver merges them into that one). A full vector costs ~11 bytes per
   * origin; in a mesh most ACKs move one or two.
   */
  readonly delta?: boolean;
  /**
   * Origins whose ops the sender received twice since its last ACK (one copy came another way):
   * the receiver holds those origins' ops back for the forward delay again, and lengthens it
   * (see SyncSession forwardDelayMs).
   */
  readonly duplicates?: readonly NodeId[];
}

export interface Close {
  readonly type: 'close';
  readonly code: string;
  readonly message: string;
}

/** Dots accounted for without content (withheld by the receiver's filter): node, from..to. */
export interface Skip {
  readonly type: 'skip';
  readonly ranges: readonly SkipRange[];
}

/**
 * Dots a relay judged void (rejected writes, docs/relay.md): counted like skipped dots, and
 * a receiver that applied one of them removes its effects. Only relays send it.
 */
export interface VoidMessage {
  readonly type: 'void';
  readonly ranges: readonly SkipRange[];
}

export interface SkipRange {
  readonly node: NodeId;
  readonly from: number;
  readonly to: number;
}

/** A record entering a partial replica: every op of it the receiver has counted, in parts. */
export interface RecordMessage {
  readonly type: 'record';
  readonly collection: string;
  readonly id: string;
  readonly ops: readonly Op[];
  readonly last: boolean;
  /** As in OPS. */
  readonly runs?: readonly SignedRun[];
}

export interface RecordRef {
  readonly collection: string;
  readonly id: string;
}

/**
 * About records of a partial replica: 'gone' (server: it left your filter), 'need' (partial
 * replica: you sent ops of a record I do not hold; send it whole), 'left' (partial replica: I
 * dropped it), 'held' (partial replica, at the session start: the records I hold, in parts; an
 * empty one ends the list).
 */
export interface RecordsMessage {
  readonly type: 'gone' | 'need' | 'left' | 'held';
  readonly records: readonly RecordRef[];
}

/** The home relay's GC decision, gossiped by every node that holds it (docs/gc.md). */
export interface GcMessage {
  readonly type: 'gc';
  readonly authority: NodeId;
  readonly generation: number;
  readonly frontier: WireVersion;
  readonly evicted: readonly NodeId[];
  /** The authority's Ed25519 public key and its signature of the fields above (docs/gc.md). */
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/**
 * Acknowledgements of members the receiver may never meet (a device on the sender's LAN that
 * never reaches the relay), passed on towards the home relay for its frontier (docs/gc.md).
 */
export interface MembersMessage {
  readonly type: 'members';
  readonly members: readonly GossipedMember[];
}

export interface GossipedMember {
  readonly id: NodeId;
  /** When the sender last heard from it (the sender's wall clock, ms). */
  readonly lastSeen: number;
  /** What it acknowledged holding. */
  readonly version: WireVersion;
  /** It is a partial replica (selective sync). */
  readonly partial: boolean;
}

/** A snapshot follows: the sender's records as merge states, at `version` (docs/gc.md). */
export interface SnapshotBegin {
  readonly type: 'snapshot-begin';
  readonly version: WireVersion;
}

/** One chunk of a snapshot: its place, and its body (see src/gc/snapshot.ts) checked by CRC-32. */
export interface SnapshotChunk {
  readonly type: 'snapshot-chunk';
  readonly index: number;
  readonly body: Uint8Array;
}

export interface SnapshotEnd {
  readonly type: 'snapshot-end';
  readonly chunks: number;
  readonly records: number;
}

/**
 * Who an origin is, before a run of its ops is forwarded or its signatures passed on: its
 * public key (the node id is derived from it) and the credentials it presents (its token).
 * Protocol 1.4 (docs/relay.md, Authorship).
 */
export interface AuthorMessage {
  readonly type: 'author';
  /** Derived from the public key when decoded. */
  readonly node: NodeId;
  readonly publicKey: Uint8Array;
  readonly credentials: Uint8Array;
}

/** A run of another device's ops with its author's signature (to a full replica). */
export interface SignedMessage {
  readonly type: 'signed';
  readonly signature: Uint8Array;
  readonly ops: readonly Op[];
}

export type Message =
  | Hello
  | AuthorMessage
  | SignedMessage
  | OpsMessage
  | Ack
  | Close
  | Skip
  | VoidMessage
  | RecordMessage
  | RecordsMessage
  | GcMessage
  | MembersMessage
  | SnapshotBegin
  | SnapshotChunk
  | SnapshotEnd;

const T_HELLO = 0x01;
const T_OPS = 0x02;
const T_ACK = 0x03;
const T_CLOSE = 0x04;
const T_SKIP = 0x05;
const T_RECORD = 0x06;
const RECORDS_TYPES = { gone: 0x07, need: 0x08, left: 0x09, held: 0x0a } as const;
const T_GC = 0x0b;
const T_SNAPSHOT_BEGIN = 0x0c;
const T_SNAPSHOT_CHUNK = 0x0d;
const T_SNAPSHOT_END = 0x0e;
const T_MEMBERS = 0x0f;
const T_VOID = 0x10;
const T_AUTHOR = 0x11;
const T_SIGNED = 0x13;
/** Signatures one OPS or RECORD frame may carry at most. */
export const MAX_RUNS_PER_FRAME = 1024;
/** Members one MEMBERS message may carry at most. */
export const MAX_GOSSIPED_MEMBERS = 256;
const OPS_LZ4 = 0x01;
const RECORD_LAST = 0x02;
/** OPS and RECORD flag: signatures of the ops' runs come before the batch (1.4). */
const OPS_RUNS = 0x04;
const HELLO_FILTER = 0x01;
const ROLES: Role[] = ['peer', 'relay'];
const LEVELS: AckLevel[] = ['local-durable', 'relay-durable'];

/** ACK flag: the vector holds only what moved since the previous ACK. */
const ACK_DELTA = 0x10;
/** ACK flag: a list of origins received twice follows the vector. */
const ACK_DUPLICATES = 0x20;

/**
 * `stream`: the sending side's batch context for this session, so OPS batches continue one
 * interning stream (a record id travels in full once per session, then as an index).
 */
export function encodeMessage(m: Message, stream?: BatchWriteContext): Uint8Array {
  const e = new Encoder(64);
  switch (m.type) {
    case 'hello':
      writeByte(e, T_HELLO);
      writeVarUint(e, m.major);
      writeVarUint(e, m.minor);
      writeString(e, m.dbId);
      writeNodeLiteral(e, m.nodeId);
      writeByte(e, ROLES.indexOf(m.role));
      writeVersion(e, m.version);
      writeBytes(e, m.credentials);
      writeByte(e, m.filter ? HELLO_FILTER : 0);
      if (m.filter) writeValue(e, m.filter.spec as unknown as Value);
      break;
    case 'ops':
      writeByte(e, T_OPS);
      writeOpsBody(e, m.ops, 0, stream, m.runs);
      break;
    case 'record':
      writeByte(e, T_RECORD);
      writeString(e, m.collection);
      writeString(e, m.id);
      writeOpsBody(e, m.ops, m.last ? RECORD_LAST : 0, stream, m.runs);
      break;
    case 'skip':
    case 'void':
      writeByte(e, m.type === 'skip' ? T_SKIP : T_VOID);
      writeVarUint(e, m.ranges.length);
      for (const r of m.ranges) {
        writeNodeLiteral(e, r.node);
        writeVarUint(e, r.from);
        writeVarUint(e, r.to - r.from);
      }
      break;
    case 'author':
      writeByte(e, T_AUTHOR);
      writeRaw(e, m.publicKey);
      writeBytes(e, m.credentials);
      break;
    case 'signed':
      writeByte(e, T_SIGNED);
      writeRaw(e, m.signature);
      writeOpsBody(e, m.ops, 0, stream);
      break;
    case 'gone':
    case 'need':
    case 'left':
    case 'held':
      writeByte(e, RECORDS_TYPES[m.type]);
      writeVarUint(e, m.records.length);
      for (const r of m.records) {
        writeString(e, r.collection);
        writeString(e, r.id);
      }
      break;
    case 'ack':
      writeByte(e, T_ACK);
      writeByte(e, LEVELS.indexOf(m.level) | (m.delta ? ACK_DELTA : 0) | (m.duplicates?.length ? ACK_DUPLICATES : 0));
      writeVersion(e, m.version);
      if (m.duplicates?.length) {
        writeVarUint(e, m.duplicates.length);
        for (const node of m.duplicates) writeNodeLiteral(e, node);
      }
      break;
    case 'close':
      writeByte(e, T_CLOSE);
      writeString(e, m.code);
      writeString(e, m.message);
      break;
    case 'gc':
      writeByte(e, T_GC);
      writeNodeLiteral(e, m.authority);
      writeVarUint(e, m.generation);
      writeVersion(e, m.frontier);
      writeVarUint(e, m.evicted.length);
      for (const node of m.evicted) writeNodeLiteral(e, node);
      writeRaw(e, m.publicKey);
      writeRaw(e, m.signature);
      break;
    case 'members':
      writeByte(e, T_MEMBERS);
      writeVarUint(e, m.members.length);
      for (const member of m.members) {
        writeNodeLiteral(e, member.id);
        writeVarUint(e, member.lastSeen);
        writeByte(e, member.partial ? 1 : 0);
        writeVersion(e, member.version);
      }
      break;
    case 'snapshot-begin':
      writeByte(e, T_SNAPSHOT_BEGIN);
      writeVersion(e, m.version);
      break;
    case 'snapshot-chunk': {
      // The checksum covers the body before compression: it catches a bad block either way.
      writeByte(e, T_SNAPSHOT_CHUNK);
      writeVarUint(e, m.index);
      const sum = crc32(m.body);
      writeRaw(e, new Uint8Array([sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff]));
      const packed = compressBlock(m.body);
      const compressed = packed.length < m.body.length;
      writeByte(e, compressed ? OPS_LZ4 : 0);
      writeVarUint(e, m.body.length);
      writeRaw(e, compressed ? packed : m.body);
      break;
    }
    case 'snapshot-end':
      writeByte(e, T_SNAPSHOT_END);
      writeVarUint(e, m.chunks);
      writeVarUint(e, m.records);
      break;
  }
  return e.finish();
}

/**
 * An OPS frame that any session may send as is (to peers of minor >= 5): its batch interns only
 * within itself and takes no place in the session's stream. A relay sends the same new ops to
 * every full peer; encoding them once instead of once per peer was most of its fan-out time.
 */
export function encodeStandaloneOps(ops: readonly Op[]): Uint8Array {
  return encodeMessage({ type: 'ops', ops });
}

/**
 * Batches of one session direction continue one interning stream, so they must be decoded
 * exactly once each, in order: each carries its position in the stream (1, 2, ...), and a
 * duplicated, dropped or reordered frame fails to decode instead of shifting the tables.
 */
const positions = new WeakMap<object, number>();

function nextPosition(stream: object | undefined): number {
  if (!stream) return 0;
  const n = (positions.get(stream) ?? 0) + 1;
  positions.set(stream, n);
  return n;
}

/** An OPS batch after a flags byte: LZ4-compressed when that made it smaller. */
function writeOpsBody(
  e: Encoder,
  ops: readonly Op[],
  flags: number,
  stream: BatchWriteContext | undefined,
  runs?: readonly SignedRun[],
): void {
  writeVarUint(e, nextPosition(stream));
  const batch = encodeBatch(ops, stream);
  const packed = batch.length >= LZ4_MIN_BYTES ? compressBlock(batch) : undefined;
  const body = packed && packed.length < batch.length ? packed : batch;
  writeByte(e, flags | (body === packed ? OPS_LZ4 : 0) | (runs?.length ? OPS_RUNS : 0));
  if (runs?.length) writeRuns(e, runs);
  e.ensure(body.length);
  e.buf.set(body, e.pos);
  e.pos += body.length;
}

/**
 * Reads what writeOpsBody wrote (it runs to the end of the frame); `allowed`: extra flag bits.
 * Position 0 is a standalone batch (1.5: encoded once and sent to many sessions, see
 * encodeStandaloneOps): its own interning tables, none of the stream's, and no place in it.
 */
function readOpsBody(d: Decoder, frame: Uint8Array, allowed: number, maxFrameBytes: number, stream: BatchReadContext | undefined) {
  const position = readVarUint(d);
  const standalone = position === 0;
  if (!standalone) {
    const expected = nextPosition(stream);
    if (position !== expected) d.fail(`batch ${position} of the stream where ${expected} was due (a frame duplicated, lost or reordered)`);
  }
  const flags = readByte(d);
  if (flags & ~(OPS_LZ4 | OPS_RUNS | allowed)) d.fail('unknown ops flags');
  const runs = flags & OPS_RUNS ? readRuns(d) : undefined;
  const body = frame.subarray(d.pos);
  d.pos = d.end;
  const batch = flags & OPS_LZ4 ? decompressBlock(body, maxFrameBytes * 4) : body;
  return { ops: decodeBatch(batch, standalone ? undefined : stream), flags: flags & ~(OPS_LZ4 | OPS_RUNS), ...(runs ? { runs } : {}) };
}

function writeRuns(e: Encoder, runs: readonly SignedRun[]): void {
  writeVarUint(e, runs.length);
  for (const run of runs) {
    writeNodeLiteral(e, run.node);
    writeVarUint(e, run.first);
    writeVarUint(e, run.last - run.first);
    writeRaw(e, run.signature);
  }
}

function readRuns(d: Decoder): SignedRun[] {
  const n = readLength(d, 66);
  if (n === 0 || n > MAX_RUNS_PER_FRAME) d.fail(`${n} signed runs in one frame (1..${MAX_RUNS_PER_FRAME})`);
  const runs: SignedRun[] = [];
  for (let i = 0; i < n; i++) {
    const node = readNodeLiteral(d);
    const first = readVarUint(d);
    const span = readVarUint(d);
    if (first === 0 || span >= MAX_RUN_OPS || !Number.isSafeInteger(first + span)) d.fail('bad signed run');
    runs.push({ node, first, last: first + span, signature: readRaw(d, 64).slice() });
  }
  return runs;
}

function readFilter(d: Decoder): SyncFilter {
  const spec = readValue(d);
  try {
    return SyncFilter.parse(spec);
  } catch (err) {
    if (err instanceof FilterError) return d.fail(`bad filter: ${err.message}`);
    throw err;
  }
}

/** Most members one GC announcement may list as evicted. */
const MAX_EVICTED = 4096;

/** A snapshot chunk arrived damaged (the session drops the snapshot and asks for it again). */
export class ChecksumError extends DecodeError {
  override name = 'ChecksumError';
}

/** Decodes a frame; throws DecodeError (only) on anything malformed. */
export function decodeMessage(frame: Uint8Array, maxFrameBytes: number, stream?: BatchReadContext): Message {
  const d = new Decoder(frame);
  try {
    const type = readByte(d);
    let m: Message;
    switch (type) {
      case T_HELLO: {
        const major = readVarUint(d);
        const minor = readVarUint(d);
        const dbId = readString(d);
        const nodeId = readNodeLiteral(d);
        const role = ROLES[readByte(d)] ?? d.fail('unknown role');
        const version = readVersion(d);
        const credentials = readBytes(d);
        if (credentials.length > MAX_CREDENTIALS_BYTES) d.fail('credentials too large');
        const flags = readByte(d);
        if (flags & ~HELLO_FILTER) d.fail('unknown hello flags');
        const filter = flags & HELLO_FILTER ? readFilter(d) : undefined;
        m = { type: 'hello', major, minor, dbId, nodeId, role, version, credentials, ...(filter ? { filter } : {}) };
        break;
      }
      case T_OPS: {
        const { ops, runs } = readOpsBody(d, frame, 0, maxFrameBytes, stream);
        m = { type: 'ops', ops, ...(runs ? { runs } : {}) };
        break;
      }
      case T_RECORD: {
        const collection = readString(d);
        const id = readString(d);
        const { ops, flags, runs } = readOpsBody(d, frame, RECORD_LAST, maxFrameBytes, stream);
        for (const op of ops)
          if (op.collection !== collection || op.record !== id) d.fail('a record message carries an op of another record');
        m = { type: 'record', collection, id, ops, last: (flags & RECORD_LAST) !== 0, ...(runs ? { runs } : {}) };
        break;
      }
      case T_SKIP:
      case T_VOID: {
        const n = readLength(d, 3);
        const ranges: SkipRange[] = [];
        for (let i = 0; i < n; i++) {
          const node = readNodeLiteral(d);
          const from = readVarUint(d);
          const to = from + readVarUint(d);
          if (from === 0 || !Number.isSafeInteger(to)) d.fail(`bad ${type === T_SKIP ? 'skip' : 'void'} range`);
          ranges.push({ node, from, to });
        }
        m = { type: type === T_SKIP ? 'skip' : 'void', ranges };
        break;
      }
      case T_AUTHOR: {
        const publicKey = readRaw(d, 32).slice();
        const credentials = readBytes(d);
        if (credentials.length > MAX_CREDENTIALS_BYTES) d.fail('credentials too large');
        m = { type: 'author', node: nodeIdFromPublicKey(publicKey), publicKey, credentials };
        break;
      }
      case T_SIGNED: {
        const signature = readRaw(d, 64).slice();
        const { ops } = readOpsBody(d, frame, 0, maxFrameBytes, stream);
        const first = ops[0];
        if (!first || ops.length > MAX_RUN_OPS) return d.fail(`a signed run of ${ops.length} ops (1..${MAX_RUN_OPS})`);
        if (ops.some((op, i) => op.node !== first.node || op.seq !== first.seq + i))
          d.fail("a signed run that is not one origin's consecutive ops");
        m = { type: 'signed', signature, ops };
        break;
      }
      case RECORDS_TYPES.gone:
      case RECORDS_TYPES.need:
      case RECORDS_TYPES.left:
      case RECORDS_TYPES.held: {
        const kind = (Object.keys(RECORDS_TYPES) as (keyof typeof RECORDS_TYPES)[]).find(
          (k) => RECORDS_TYPES[k] === type,
        ) as RecordsMessage['type'];
        const n = readLength(d, 2);
        if (n > MAX_RECORD_REFS) d.fail(`more than ${MAX_RECORD_REFS} records in one message`);
        const records: RecordRef[] = [];
        for (let i = 0; i < n; i++) records.push({ collection: readString(d), id: readString(d) });
        m = { type: kind, records };
        break;
      }
      case T_ACK: {
        const flags = readByte(d);
        if (flags & ~(ACK_DELTA | ACK_DUPLICATES | 0x0f)) d.fail('unknown ack flags');
        const level = LEVELS[flags & 0x0f] ?? d.fail('unknown ack level');
        const version = readVersion(d);
        const duplicates: NodeId[] = [];
        if (flags & ACK_DUPLICATES) {
          const n = readLength(d, 8);
          if (n === 0 || n > MAX_DUPLICATE_ORIGINS) d.fail(`duplicates list of ${n} origins (1..${MAX_DUPLICATE_ORIGINS})`);
          for (let i = 0; i < n; i++) {
            const node = readNodeLiteral(d);
            if (duplicates.includes(node)) d.fail('duplicates list names a node twice');
            duplicates.push(node);
          }
        }
        m = {
          type: 'ack',
          level,
          version,
          ...(flags & ACK_DELTA ? { delta: true } : {}),
          ...(duplicates.length > 0 ? { duplicates } : {}),
        };
        break;
      }
      case T_CLOSE:
        m = { type: 'close', code: readString(d), message: readString(d) };
        break;
      case T_GC: {
        const authority = readNodeLiteral(d);
        const generation = readVarUint(d);
        const frontier = readVersion(d);
        const n = readLength(d, 8);
        if (n > MAX_EVICTED) d.fail(`more than ${MAX_EVICTED} evicted members`);
        const evicted: NodeId[] = [];
        for (let i = 0; i < n; i++) evicted.push(readNodeLiteral(d));
        const publicKey = readRaw(d, 32).slice();
        const signature = readRaw(d, 64).slice();
        m = { type: 'gc', authority, generation, frontier, evicted, publicKey, signature };
        break;
      }
      case T_MEMBERS: {
        const n = readLength(d, 10);
        if (n > MAX_GOSSIPED_MEMBERS) d.fail(`more than ${MAX_GOSSIPED_MEMBERS} members in one message`);
        const members: GossipedMember[] = [];
        for (let i = 0; i < n; i++) {
          const id = readNodeLiteral(d);
          const lastSeen = readVarUint(d);
          const flags = readByte(d);
          if (flags & ~1) d.fail('unknown member flags');
          members.push({ id, lastSeen, partial: (flags & 1) !== 0, version: readVersion(d) });
        }
        m = { type: 'members', members };
        break;
      }
      case T_SNAPSHOT_BEGIN:
        m = { type: 'snapshot-begin', version: readVersion(d) };
        break;
      case T_SNAPSHOT_CHUNK: {
        const index = readVarUint(d);
        const sum = readRaw(d, 4);
        const expected = (((sum[0] as number) << 24) | ((sum[1] as number) << 16) | ((sum[2] as number) << 8) | (sum[3] as number)) >>> 0;
        const flags = readByte(d);
        if (flags & ~OPS_LZ4) d.fail('unknown snapshot chunk flags');
        const size = readVarUint(d);
        if (size > maxFrameBytes * 4) d.fail(`a snapshot chunk of ${size} bytes`);
        const stored = frame.subarray(d.pos);
        d.pos = d.end;
        const body = flags & OPS_LZ4 ? decompressBlock(stored, size) : stored;
        if (body.length !== size) d.fail('snapshot chunk length mismatch');
        if (crc32(body) !== expected) throw new ChecksumError(`snapshot chunk ${index} fails its checksum`);
        m = { type: 'snapshot-chunk', index, body };
        break;
      }
      case T_SNAPSHOT_END:
        m = { type: 'snapshot-end', chunks: readVarUint(d), records: readVarUint(d) };
        break;
      default:
        return d.fail(`unknown message type 0x${type.toString(16)}`);
    }
    if (d.pos !== d.end) d.fail('trailing bytes');
    return m;
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(`internal decoder error: ${String(err)}`, d.pos);
  }
}
