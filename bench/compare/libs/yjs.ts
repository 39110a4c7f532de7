/**
 * Yjs: one Y.Doc, records as nested Y.Maps (a set as a Y.Map of tag -> true; Yjs has no
 * counter, so viewCount is a number written back). Synced the way y-protocols does: each side
 * sends its state vector on connect, answers one with the missing update, then forwards every
 * local update as it happens.
 */
import * as Y from 'yjs';
import type { BugRecord, Edit, Snapshot } from '../data.ts';
import type { Contender, History } from './contender.ts';
import { markerId } from './contender.ts';
import { type FramedSocket, framedLink } from './framed-socket.ts';

const STATE_VECTOR = 0;
const UPDATE = 1;
const REMOTE = Symbol('remote');

function message(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = type;
  out.set(body, 1);
  return out;
}

export function yjs(): Contender {
  const doc = new Y.Doc();
  const bugs = doc.getMap<Y.Map<unknown>>('bugs');
  const peers = new Set<FramedSocket>();

  doc.on('update', (update: Uint8Array, origin: unknown) => {
    if (origin === REMOTE) return;
    for (const peer of peers) peer.send(message(UPDATE, update));
  });

  function handler(peer: FramedSocket) {
    peers.add(peer);
    peer.send(message(STATE_VECTOR, Y.encodeStateVector(doc)));
    return (frame: Uint8Array) => {
      const body = frame.subarray(1);
      if (frame[0] === STATE_VECTOR) peer.send(message(UPDATE, Y.encodeStateAsUpdate(doc, body)));
      else Y.applyUpdate(doc, body, REMOTE);
    };
  }
  const link = framedLink(handler, (peer) => peers.delete(peer));

  function record(id: string): Y.Map<unknown> {
    const r = bugs.get(id);
    if (!r) throw new Error(`no record ${id}`);
    return r;
  }

  return {
    name: 'Yjs',
    package: 'yjs',
    async open() {},
    serve: link.serve,
    join: link.join,
    leave: link.leave,
    async insert(records: readonly { id: string; record: BugRecord }[]) {
      for (let i = 0; i < records.length; i += 1000) {
        doc.transact(() => {
          for (const { id, record } of records.slice(i, i + 1000)) {
            const m = new Y.Map<unknown>();
            for (const [field, value] of Object.entries(record)) {
              if (field === 'tags') m.set('tags', new Y.Map(record.tags.map((t) => [t, true])));
              else m.set(field, value);
            }
            bugs.set(id, m);
          }
        });
      }
    },
    async update(id, priority) {
      record(id).set('priority', priority);
    },
    async edit(e: Edit) {
      const r = record(e.id);
      if (e.kind === 'view') r.set('viewCount', Number(r.get('viewCount')) + 1);
      else if (e.kind === 'tag') (r.get('tags') as Y.Map<boolean>).set(e.value, true);
      else r.set(e.kind, e.value);
    },
    async setMarker(side, value) {
      const id = markerId(side);
      let m = bugs.get(id);
      if (!m) {
        m = new Y.Map<unknown>();
        bugs.set(id, m);
      }
      m.set('done', value);
    },
    async markerValue(side) {
      return bugs.get(markerId(side))?.get('done') as number | undefined;
    },
    async snapshot(): Promise<Snapshot> {
      const out: Snapshot = new Map();
      for (const [id, m] of bugs) {
        const plain: Record<string, unknown> = {};
        for (const [field, value] of m) plain[field] = value instanceof Y.Map ? [...value.keys()] : value;
        out.set(id, plain);
      }
      return out;
    },
    async history(): Promise<History> {
      return { value: Y.encodeStateAsUpdate(doc).length, unit: 'bytes (encoded state)' };
    },
    async close() {
      for (const peer of peers) peer.close();
      link.close();
      doc.destroy();
    },
  };
}
