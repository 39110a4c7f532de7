/**
 * Signed runs of ops (docs/relay.md, Authorship): this device's signatures of its own ops, and
 * those of other devices' ops that it holds whole and checked, with their authors' keys and
 * tokens, so it can forward another device's writes to a relay that judges them by their
 * author. Kept in the store's meta: `run:<node>:<first>` (last seq, signature) and
 * `author:<node>` (public key, credentials sealed like records in an encrypted store). A relay
 * keeps none: it checks what it is sent.
 */

import { Decoder, readBytes, readVarUint } from '../codec/decoder.ts';
import { Encoder, writeBytes, writeVarUint } from '../codec/encoder.ts';
import type { PayloadCipher } from '../crypto/payload-cipher.ts';
import { nodeIdFromPublicKey } from '../identity/identity.ts';
import type { NodeId } from '../identity/node-id.ts';
import { type Author, cutRuns, runDigest, type SignedRun, verifyRun } from '../identity/run-signature.ts';
import type { Op } from '../ops/op.ts';
import type { Storage } from '../storage/storage.ts';

const RUN_PREFIX = 'run:';
const AUTHOR_PREFIX = 'author:';
/** Own ops read per step while signing (a long offline stretch is signed in parts). */
const SIGN_READ_OPS = 4096;

export interface SignedRunsInit {
  readonly storage: Storage;
  /** Seals the authors' tokens in an encrypted store (a passthrough otherwise). */
  readonly cipher: PayloadCipher;
  readonly dbId: string;
  /** This device's node id now (it changes when the identity is renewed). */
  readonly self: () => NodeId;
  /** Signs with this device's key. */
  readonly sign: (digest: Uint8Array) => Uint8Array;
  /** Stored ops of `node` after `seq`, in order, at most `limit`. */
  readonly opsAfter: (node: NodeId, seq: number, limit: number) => Op[];
  /** The standalone encoded size of an op (for cutting runs). */
  readonly sizeOf: (op: Op) => number;
}

export class SignedRuns {
  /** Per origin, runs sorted by first seq, never overlapping. */
  readonly #byNode = new Map<NodeId, SignedRun[]>();
  readonly #authors = new Map<NodeId, Author>();
  readonly #init: SignedRunsInit;
  readonly #keptListeners = new Set<(node: NodeId) => void>();
  /** Per origin, the last seq of runs pruned: this device's own ops up to it are not signed again. */
  readonly #prunedThrough = new Map<NodeId, number>();

  constructor(init: SignedRunsInit) {
    this.#init = init;
    for (const [key, bytes] of init.storage.scanMeta(RUN_PREFIX)) {
      const [node, first] = key.slice(RUN_PREFIX.length).split(':') as [NodeId, string];
      const d = new Decoder(bytes);
      const last = readVarUint(d);
      this.#insert({ node, first: Number.parseInt(first, 16), last, signature: readBytes(d) });
    }
    for (const [key, bytes] of init.storage.scanMeta(AUTHOR_PREFIX)) {
      const d = new Decoder(bytes);
      const node = key.slice(AUTHOR_PREFIX.length) as NodeId;
      const publicKey = readBytes(d);
      this.#authors.set(node, { node, publicKey, credentials: init.cipher.open(key, readBytes(d)) });
    }
  }

  /** Runs of `node` that overlap from..to, ascending. */
  overlapping(node: NodeId, from: number, to: number): SignedRun[] {
    const runs = this.#byNode.get(node);
    if (!runs) return [];
    const out: SignedRun[] = [];
    for (let i = this.#firstEndingAtOrAfter(runs, from); i < runs.length; i++) {
      const run = runs[i] as SignedRun;
      if (run.first > to) break;
      out.push(run);
    }
    return out;
  }

  /** The run holding `node`'s op `seq`, if any. */
  runAt(node: NodeId, seq: number): SignedRun | undefined {
    const runs = this.#byNode.get(node);
    const run = runs?.[this.#firstEndingAtOrAfter(runs, seq)];
    return run && run.first <= seq ? run : undefined;
  }

  /** Signs this device's own ops up to `upTo` that no run covers yet; returns the new runs. */
  signOwn(upTo: number): SignedRun[] {
    const self = this.#init.self();
    const made: SignedRun[] = [];
    // Ops GC kept in the log below the frontier (history retention) stay signed once.
    let after = Math.max(this.#byNode.get(self)?.at(-1)?.last ?? 0, this.#prunedThrough.get(self) ?? 0);
    while (after < upTo) {
      const ops = this.#init.opsAfter(self, after, Math.min(SIGN_READ_OPS, upTo - after)).filter((op) => op.seq <= upTo);
      if (ops.length === 0) break;
      for (const run of cutRuns(ops, this.#init.sizeOf)) {
        const digest = runDigest(this.#init.dbId, run) as Uint8Array; // one origin, consecutive: cutRuns made it so
        made.push({ node: self, first: (run[0] as Op).seq, last: (run.at(-1) as Op).seq, signature: this.#init.sign(digest) });
      }
      after = (ops.at(-1) as Op).seq;
    }
    if (made.length > 0)
      this.#init.storage.transaction(() => {
        for (const run of made) this.#store(run);
      });
    return made;
  }

  /**
   * Keeps a run another device's session passed on, if its author is known and the run is its
   * signature of the ops held here (given, or read from the log). Returns whether it is kept
   * (true also when it was already).
   */
  keep(run: SignedRun, ops?: readonly Op[]): boolean {
    const author = this.#authors.get(run.node);
    const overlapping = this.overlapping(run.node, run.first, run.last);
    if (overlapping.length === 1 && overlapping[0]?.first === run.first && overlapping[0].last === run.last) return true; // kept already
    if (!author || run.node === this.#init.self() || overlapping.length > 0) return false;
    const held = ops ?? this.#opsOf(run);
    if (!held || !verifyRun(this.#init.dbId, author, run, held)) return false;
    this.#init.storage.transaction(() => this.#store(run));
    for (const listener of this.#keptListeners) listener(run.node);
    return true;
  }

  /** Called with the origin of every run kept from another device; returns an unsubscribe. */
  onKept(listener: (node: NodeId) => void): () => void {
    this.#keptListeners.add(listener);
    return () => this.#keptListeners.delete(listener);
  }

  /** Forgets runs at or below `frontier` (every live member holds their ops); returns how many. */
  prune(frontier: ReadonlyMap<NodeId, number>): number {
    const gone: SignedRun[] = [];
    for (const [node, runs] of this.#byNode) {
      const upTo = frontier.get(node) ?? 0;
      let keep = 0;
      while (keep < runs.length && (runs[keep] as SignedRun).last <= upTo) gone.push(runs[keep++] as SignedRun);
      if (keep === 0) continue;
      this.#prunedThrough.set(node, (runs[keep - 1] as SignedRun).last);
      runs.splice(0, keep);
    }
    if (gone.length > 0)
      this.#init.storage.transaction(() => {
        for (const run of gone) this.#init.storage.deleteMeta(runKey(run));
      });
    return gone.length;
  }

  /** The run holding `node`'s op `seq`, with its ops, if every op of it is in the log here. */
  heldRunAt(node: NodeId, seq: number): { run: SignedRun; ops: Op[] } | undefined {
    const run = this.runAt(node, seq);
    if (!run) return undefined;
    const ops = this.#opsOf(run);
    return ops ? { run, ops } : undefined;
  }

  author(node: NodeId): Author | undefined {
    return this.#authors.get(node);
  }

  /** Keeps (or renews the credentials of) another device's author record. False if its key does not name it. */
  keepAuthor(author: Author): boolean {
    if (nodeIdFromPublicKey(author.publicKey) !== author.node) return false;
    const known = this.#authors.get(author.node);
    if (known && sameBytes(known.credentials, author.credentials)) return true;
    const e = new Encoder();
    writeBytes(e, author.publicKey);
    writeBytes(e, this.#init.cipher.seal(AUTHOR_PREFIX + author.node, author.credentials));
    this.#init.storage.transaction(() => this.#init.storage.setMeta(AUTHOR_PREFIX + author.node, e.finish()));
    this.#authors.set(author.node, { node: author.node, publicKey: author.publicKey, credentials: author.credentials });
    return true;
  }

  #opsOf(run: SignedRun): Op[] | undefined {
    // Cheap checks first: a partial replica is passed a run once per record of it it gets.
    const storage = this.#init.storage;
    if (!storage.getOp(run.node, run.last) || !storage.getOp(run.node, run.first)) return undefined;
    const count = run.last - run.first + 1;
    const ops = this.#init.opsAfter(run.node, run.first - 1, count);
    if (ops.length !== count || ops[0]?.seq !== run.first || ops.at(-1)?.seq !== run.last) return undefined;
    return ops;
  }

  #store(run: SignedRun): void {
    const e = new Encoder();
    writeVarUint(e, run.last);
    writeBytes(e, run.signature);
    this.#init.storage.setMeta(runKey(run), e.finish());
    this.#insert(run);
  }

  #insert(run: SignedRun): void {
    let runs = this.#byNode.get(run.node);
    if (!runs) {
      runs = [];
      this.#byNode.set(run.node, runs);
    }
    const at = this.#firstEndingAtOrAfter(runs, run.first);
    runs.splice(at, 0, run);
  }

  /** Index of the first run whose last seq is >= seq (runs do not overlap: last is ascending). */
  #firstEndingAtOrAfter(runs: readonly SignedRun[], seq: number): number {
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((runs[mid] as SignedRun).last < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function runKey(run: SignedRun): string {
  return `${RUN_PREFIX}${run.node}:${run.first.toString(16).padStart(14, '0')}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
