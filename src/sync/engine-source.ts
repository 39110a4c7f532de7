/** The local database as a sync source: the glue between a session and the engine. */

import { hasCompactedHistory } from '../db/bases.ts';
import type { Engine } from '../db/engine.ts';
import type { BlazeDB } from '../db/index.ts';
import type { Op } from '../ops/op.ts';
import { parseOptions, parseQuery } from '../query/index.ts';
import { HolderIndex } from './held-records.ts';
import type { SyncSession, SyncSource } from './session.ts';

/** Per engine, the answers of startsRecord by dot: every session serving a partial peer asks about the same ops. */
const startsRecordCache = new WeakMap<Engine, Map<string, boolean>>();
const STARTS_RECORD_CACHE_SIZE = 65_536;

/** Whether `op` is its record's first op here (an insert of a new record), see SyncSource.startsRecord. */
function startsRecord(engine: Engine, op: Op): boolean {
  if (op.kind !== 'insert') return false;
  const known = engine.startsRecord(op);
  if (known !== undefined) return known;
  let cache = startsRecordCache.get(engine);
  if (!cache) {
    cache = new Map();
    startsRecordCache.set(engine, cache);
  }
  const dot = `${op.node}:${op.seq}`;
  let answer = cache.get(dot);
  if (answer === undefined) {
    answer = engine.storage.opCountOfRecord(op.collection, op.record) === 1 && !hasCompactedHistory(engine, op.collection, op.record);
    cache.set(dot, answer);
    if (cache.size > STARTS_RECORD_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return answer;
}

/** Per engine, who holds which record: every session of one database shares it. */
const holderIndexes = new WeakMap<Engine, HolderIndex>();

export function databaseSource(db: BlazeDB): SyncSource {
  const engine = db.engine;
  const gc = db.gcCollector;
  db.acks.attached = true;
  db.startBackgroundGc();
  return {
    dbId: db.dbId,
    get nodeId() {
      return db.nodeId; // a getter: the id changes if the store renews its identity
    },
    version: () => engine.replica.version.view(),
    opsAfter: (node, seq, limit, maxBytes, upTo) => engine.opsAfter(node, seq, limit, maxBytes, upTo),
    apply: (items, session: SyncSession) => engine.applySync(items, session),
    onOps: (listener) => engine.onOps(listener),
    recordAck: (peer, level, version) => db.acks.record({ peer, level, version }),
    onClose: (listener) => db.onClose(listener),
    noteRemoteVersion: (version) => {
      for (const [node, seq] of version) engine.noteRemoteSeq(node, seq);
    },
    filter: () => engine.filter,
    onMembership: (listener) => engine.onMembership(listener),
    onFilterChange: (listener) => engine.onFilterChange(listener),
    recordDoc: (collection, id) => engine.readDocShared(collection, id),
    docsVersion: () => engine.docsVersion,
    holderIndex: () => {
      let index = holderIndexes.get(engine);
      if (!index) {
        index = new HolderIndex();
        holderIndexes.set(engine, index);
      }
      return index;
    },
    opsOfRecord: (collection, id) => engine.opsOfRecord(collection, id),
    heldRecords: () => engine.heldRecords(),
    incompleteRecords: () => engine.incompleteRecords(),
    memberSeen: (peer, partial, relay) => gc.state.memberSeen(peer, engine.clock.wallMs(), partial, relay),
    gcAnnouncement: () => gc.state.latest,
    // Adopted in a transaction of its own: an announcement is rare and must outlive a restart.
    receiveGc: (announcement) => engine.write(() => gc.state.receive(announcement)),
    onGcAnnouncement: (listener) => gc.state.onAnnouncement(listener),
    horizon: () => gc.horizon.vector,
    snapshot: () => gc.snapshot(),
    applySnapshot: (version, chunks, session) => {
      const records = gc.applySnapshot(version, chunks);
      engine.announceChange(session);
      return records;
    },
    hasCompactedHistory: (collection, id) => hasCompactedHistory(engine, collection, id),
    startsRecord: (op) => startsRecord(engine, op),
    snapshotProgress: (progress) => db.reportSnapshotProgress(progress),
    memberAcks: () => gc.memberAcks(),
    onMemberAck: (listener) => db.acks.onChange(listener),
    receiveMembers: (members, from) => gc.receiveMembers(members, from),
    authorship: {
      get publicKey() {
        return db.publicKey;
      },
      runAt: (node, seq) => {
        const runs = db.signedRuns;
        // All of its own ops so far: a run per frame would be a signature per op for a partial
        // peer (it gets new records one RECORD at a time).
        if (node === db.nodeId) runs.signOwn(engine.replica.version.get(node) ?? 0);
        return runs.runAt(node, seq);
      },
      heldRunAt: (node, seq) => db.signedRuns.heldRunAt(node, seq),
      keepRun: (run, ops) => db.signedRuns.keep(run, ops),
      onKept: (listener) => db.signedRuns.onKept(listener),
      author: (node) => db.signedRuns.author(node),
      keepAuthor: (author, direct) => {
        // Only the origin itself renews who it is: a third party names it only if it is unknown.
        if (direct || !db.signedRuns.author(author.node)) db.signedRuns.keepAuthor(author);
      },
    },
    voids: () => engine.voidRanges(),
    voidRangeAt: (node, seq) => engine.voidRangeAt(node, seq),
    onVoid: (listener) => engine.onVoid((change) => listener(change.ranges, change.removed)),
    matchingRecords: (filter) => {
      const out: { collection: string; id: string }[] = [];
      const everything = parseOptions(undefined);
      const all = parseQuery(undefined);
      for (const collection of filter.collections()) {
        for (const { id } of engine.find(collection, filter.condition(collection) ?? all, everything)) out.push({ collection, id });
      }
      return out;
    },
  };
}
