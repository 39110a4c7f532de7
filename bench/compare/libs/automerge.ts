/**
 * Automerge 3: one document, records as maps (strings as ImmutableString since they are only
 * ever replaced whole, a set as a map of tag -> true, viewCount an Automerge.Counter). Synced
 * with Automerge's sync protocol, one sync state per peer, as automerge-repo does: on the
 * peer's message a reply at once, after local changes at most every 100 ms (automerge-repo's
 * sync throttle), so a burst of changes travels as one message.
 */
import * as A from '@automerge/automerge';
import type { BugRecord, Edit, Snapshot } from '../data.ts';
import type { Contender, History } from './contender.ts';
import { markerId } from './contender.ts';
import { type FramedSocket, framedLink } from './framed-socket.ts';

type Fields = Record<string, unknown>;
const SYNC_THROTTLE_MS = 100;
type Doc = { bugs: Record<string, Fields> };

export function automerge(): Contender {
  let doc = A.init<Doc>();
  const peers = new Map<FramedSocket, A.SyncState>();

  function flush(peer: FramedSocket): void {
    const [state, msg] = A.generateSyncMessage(doc, peers.get(peer) as A.SyncState);
    peers.set(peer, state);
    if (msg) peer.send(msg);
  }

  let throttled: NodeJS.Timeout | undefined;
  function change(fn: (d: Doc) => void): void {
    doc = A.change(doc, fn);
    throttled ??= setTimeout(() => {
      throttled = undefined;
      for (const peer of peers.keys()) flush(peer);
    }, SYNC_THROTTLE_MS);
  }

  function handler(peer: FramedSocket) {
    peers.set(peer, A.initSyncState());
    flush(peer);
    return (frame: Uint8Array) => {
      const state = peers.get(peer);
      if (!state) return;
      const [next, nextState] = A.receiveSyncMessage(doc, state, frame);
      doc = next;
      peers.set(peer, nextState);
      for (const other of peers.keys()) flush(other);
    };
  }
  const link = framedLink(handler, (peer) => peers.delete(peer));

  function fields(record: BugRecord): Fields {
    return {
      title: new A.ImmutableString(record.title),
      description: new A.ImmutableString(record.description),
      priority: record.priority,
      status: new A.ImmutableString(record.status),
      tags: Object.fromEntries(record.tags.map((t) => [t, true])),
      viewCount: new A.Counter(record.viewCount),
    };
  }

  const plain = (value: unknown): unknown =>
    value instanceof A.ImmutableString
      ? value.val
      : value instanceof A.Counter
        ? value.value
        : typeof value === 'object' && value !== null
          ? Object.keys(value)
          : value;

  return {
    name: 'Automerge',
    package: '@automerge/automerge',
    async open() {},
    serve: link.serve,
    join: link.join,
    leave: link.leave,
    async insert(records: readonly { id: string; record: BugRecord }[]) {
      for (let i = 0; i < records.length; i += 1000) {
        change((d) => {
          d.bugs ??= {};
          for (const { id, record } of records.slice(i, i + 1000)) d.bugs[id] = fields(record);
        });
      }
    },
    async update(id, priority) {
      change((d) => {
        (d.bugs[id] as Fields).priority = priority;
      });
    },
    async edit(e: Edit) {
      change((d) => {
        const r = d.bugs[e.id] as Fields;
        if (e.kind === 'view') (r.viewCount as A.Counter).increment(1);
        else if (e.kind === 'tag') (r.tags as Record<string, boolean>)[e.value] = true;
        else if (e.kind === 'priority') r.priority = e.value;
        else r[e.kind] = new A.ImmutableString(e.value);
      });
    },
    async setMarker(side, value) {
      change((d) => {
        d.bugs[markerId(side)] = { done: value };
      });
    },
    async markerValue(side) {
      return doc.bugs?.[markerId(side)]?.done as number | undefined;
    },
    async snapshot(): Promise<Snapshot> {
      const out: Snapshot = new Map();
      for (const [id, record] of Object.entries(doc.bugs ?? {})) {
        out.set(id, Object.fromEntries(Object.entries(record).map(([f, v]) => [f, plain(v)])));
      }
      return out;
    },
    async history(): Promise<History> {
      return { value: A.save(doc).length, unit: 'bytes (saved document)' };
    },
    async close() {
      clearTimeout(throttled);
      for (const peer of peers.keys()) peer.close();
      link.close();
    },
  };
}
