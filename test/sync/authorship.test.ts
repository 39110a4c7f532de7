/**
 * Authorship across hops (docs/relay.md, Authorship): a device signs runs of its ops and passes
 * the signatures to the devices it syncs with; a partial replica forwards another device's runs
 * to a full one only whole and signed; the receiver checks the signature (a bad one closes the
 * session, nothing applied) and asks whether the author may write (a refused author's runs are
 * dropped). Protocol 1.4: AUTHOR, SIGNED, signatures in OPS and RECORD.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchReadContext, BatchWriteContext } from '../../src/codec/index.ts';
import type { SyncItem } from '../../src/db/engine.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { MAX_RUN_OPS, type SignedRun } from '../../src/identity/run-signature.ts';
import type { Op } from '../../src/ops/op.ts';
import { SESSION_INTERN_CAPACITY } from '../../src/sync/constants.ts';
import { createPipe, databaseSource, SyncSession, type SyncSource } from '../../src/sync/index.ts';
import { decodeMessage, encodeMessage, MAX_RUNS_PER_FRAME, type Message } from '../../src/sync/messages.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { helloFrame, settle } from '../helpers/sync.ts';

let seed = 4200;
const openDb = () => BlazeDB.open({ storage: 'memory', dbId: 'shared', random: new SeededRandom(seed++) });
const token = (text: string) => new TextEncoder().encode(text);

/** A relay-like full replica that admits authors whose credentials say 'ok-...', and notes what it applied. */
function checkingRelay(db: BlazeDB) {
  const applied: SyncItem[] = [];
  const asked: string[] = [];
  const base = databaseSource(db);
  const source: SyncSource = {
    ...base,
    apply: (items, session) => {
      applied.push(...items);
      base.apply(items, session);
    },
    admitAuthor: async (author) => {
      const text = new TextDecoder().decode(author.credentials);
      asked.push(text);
      return text.startsWith('ok-') ? true : `token refused: ${text}`;
    },
  };
  return { source, applied, asked };
}

function connect(a: SyncSource, b: SyncSource, init: { aCredentials?: string; bRole?: 'peer' | 'relay' } = {}) {
  const [x, y] = createPipe();
  const sa = new SyncSession({ source: a, duplex: x, ...(init.aCredentials ? { credentials: token(init.aCredentials) } : {}) });
  const sb = new SyncSession({ source: b, duplex: y, role: init.bRole ?? 'peer' });
  sa.start();
  sb.start();
  return [sa, sb] as const;
}

describe('authorship across hops', () => {
  it("should forward a LAN device's writes through a partial replica to a relay that never meets it, as signed runs", async () => {
    const author = await openDb();
    const forwarder = await openDb();
    const relay = await openDb();
    try {
      await forwarder.setSyncFilter({ collections: { bugs: {} } });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await author.collection('bugs').insert({ title: `bug ${i}` }));
      connect(databaseSource(author), databaseSource(forwarder), { aCredentials: 'ok-author' });
      await settle();
      assert.equal(forwarder.engine.replica.version.get(author.nodeId), 3);
      assert.equal(forwarder.signedRuns.heldRunAt(author.nodeId, 1)?.run.last, 3, 'the forwarder kept the checked signature');
      await forwarder.collection('bugs').insert({ title: 'from the forwarder' });

      const checking = checkingRelay(relay);
      connect(databaseSource(forwarder), checking.source, { aCredentials: 'ok-forwarder', bRole: 'relay' });
      await settle();
      assert.deepEqual(checking.asked, ['ok-author'], "the relay checked the author's own token, not the forwarder's");
      assert.equal(relay.engine.replica.version.get(author.nodeId), 3);
      assert.equal(relay.engine.replica.version.get(forwarder.nodeId), 1);
      for (const id of ids) assert.ok(await relay.collection('bugs').get(id));
      const signed = checking.applied.filter((item) => item.kind === 'ops' && item.signed);
      assert.deepEqual(
        signed.flatMap((item) => (item.kind === 'ops' ? item.ops.map((op) => op.node) : [])),
        [author.nodeId, author.nodeId, author.nodeId],
        "only the other device's ops came signed",
      );
    } finally {
      for (const db of [author, forwarder, relay]) await db.close();
    }
  });

  it('should forward nothing of a run the partial replica does not hold whole', async () => {
    const author = await openDb();
    const forwarder = await openDb();
    const relay = await openDb();
    try {
      await forwarder.setSyncFilter({ collections: { bugs: { where: { team: 'red' } } } });
      // One transaction, so one run: red, blue, red. The forwarder holds only the red ones.
      const bugs = author.collection('bugs');
      author.transaction(() => {
        for (const team of ['red', 'blue', 'red']) bugs.insertNow({ team });
      });
      connect(databaseSource(author), databaseSource(forwarder), { aCredentials: 'ok-author' });
      await settle();
      assert.equal(forwarder.signedRuns.heldRunAt(author.nodeId, 1), undefined, 'a run it cannot check is not kept');
      const checking = checkingRelay(relay);
      connect(databaseSource(forwarder), checking.source, { aCredentials: 'ok-forwarder', bRole: 'relay' });
      await settle();
      assert.equal(relay.engine.replica.version.get(author.nodeId) ?? 0, 0, 'no gap, no unsigned op of another origin');
    } finally {
      for (const db of [author, forwarder, relay]) await db.close();
    }
  });

  it("should drop the runs of an author whose token the relay refuses, and still take the forwarder's own writes", async () => {
    const author = await openDb();
    const forwarder = await openDb();
    const relay = await openDb();
    try {
      await forwarder.setSyncFilter({ collections: { bugs: {} } });
      await author.collection('bugs').insert({ title: 'by a device without a good token' });
      connect(databaseSource(author), databaseSource(forwarder), { aCredentials: 'expired-author' });
      await settle();
      await forwarder.collection('bugs').insert({ title: 'mine' });
      const checking = checkingRelay(relay);
      const [, relaySide] = connect(databaseSource(forwarder), checking.source, { aCredentials: 'ok-forwarder', bRole: 'relay' });
      await settle();
      assert.deepEqual(checking.asked, ['expired-author']);
      assert.equal(relay.engine.replica.version.get(author.nodeId) ?? 0, 0);
      assert.equal(relay.engine.replica.version.get(forwarder.nodeId), 1);
      assert.equal(relaySide.state, 'syncing', 'the forwarder is not punished for another device');
    } finally {
      for (const db of [author, forwarder, relay]) await db.close();
    }
  });

  describe('a receiver of forged runs', () => {
    /** The relay's session fed by hand: a HELLO (protocol 1.4), then `frames`. */
    async function feed(relay: BlazeDB, frames: (stream: BatchWriteContext) => Message[]) {
      const forger = await openDb();
      const checking = checkingRelay(relay);
      const [x, y] = createPipe();
      const session = new SyncSession({ source: checking.source, duplex: x, role: 'relay' });
      session.start();
      y.send(helloFrame({ nodeId: forger.nodeId, minor: 4 }));
      const stream = new BatchWriteContext(SESSION_INTERN_CAPACITY);
      for (const m of frames(stream)) y.send(encodeMessage(m, stream));
      await settle();
      await forger.close();
      return { session, checking };
    }

    async function signedByAuthor() {
      const author = await openDb();
      for (let i = 0; i < 2; i++) await author.collection('bugs').insert({ title: `bug ${i}` });
      const [run] = author.signedRuns.signOwn(2) as [SignedRun];
      const ops = author.engine.opsAfter(author.nodeId, 0, 10);
      const named: Message = { type: 'author', node: author.nodeId, publicKey: author.publicKey, credentials: token('ok-author') };
      await author.close();
      return { run, ops, named };
    }

    it('should close forbidden on a run whose ops were altered, with nothing applied', async () => {
      const relay = await openDb();
      try {
        const { run, ops, named } = await signedByAuthor();
        const altered = ops.map((op, i) => (i === 1 ? ({ ...op, seq: op.seq } as Op) : op));
        (altered[1] as { fields?: unknown }).fields = (ops[0] as { fields?: unknown }).fields; // another op's content
        const { session } = await feed(relay, () => [named, { type: 'signed', signature: run.signature, ops: altered }]);
        assert.equal(session.closeReason?.code, 'forbidden');
        assert.equal(relay.engine.replica.version.get(run.node) ?? 0, 0);
      } finally {
        await relay.close();
      }
    });

    it('should close forbidden on a run signed by another key, and protocol on a run before its AUTHOR', async () => {
      const relay = await openDb();
      const other = await openDb();
      try {
        const { run, ops, named } = await signedByAuthor();
        await other.collection('bugs').insert({ title: 'x' });
        const [foreign] = other.signedRuns.signOwn(1) as [SignedRun];
        const forged = await feed(relay, () => [named, { type: 'signed', signature: foreign.signature, ops: ops.slice(0, 1) }]);
        assert.equal(forged.session.closeReason?.code, 'forbidden');
        const unnamed = await feed(relay, () => [{ type: 'signed', signature: run.signature, ops }]);
        assert.equal(unnamed.session.closeReason?.code, 'protocol');
        assert.equal(relay.engine.replica.version.get(run.node) ?? 0, 0);
      } finally {
        for (const db of [relay, other]) await db.close();
      }
    });
  });

  it('should encode AUTHOR, SIGNED and signatures with OPS and RECORD, and refuse malformed ones', async () => {
    const author = await openDb();
    try {
      for (let i = 0; i < 3; i++) await author.collection('bugs').insert({ n: i });
      const [run] = author.signedRuns.signOwn(3) as [SignedRun];
      const ops = author.engine.opsAfter(author.nodeId, 0, 10);
      const roundTrip = (m: Message) => decodeMessage(encodeMessage(m, new BatchWriteContext()), 1 << 22, new BatchReadContext());
      const named = roundTrip({ type: 'author', node: author.nodeId, publicKey: author.publicKey, credentials: token('t') });
      assert.equal(named.type === 'author' && named.node, author.nodeId, 'the node id is derived from the key');
      const withRuns: Message = { type: 'ops', ops, runs: [run] };
      assert.deepEqual(roundTrip(withRuns), withRuns);
      const record: Message = {
        type: 'record',
        collection: 'bugs',
        id: (ops[0] as Op).record,
        ops: [ops[0] as Op],
        last: true,
        runs: [run],
      };
      assert.deepEqual(roundTrip(record), record);
      assert.deepEqual(roundTrip({ type: 'signed', signature: run.signature, ops }), { type: 'signed', signature: run.signature, ops });
      const bad = (m: Message) => assert.throws(() => roundTrip(m), { name: 'DecodeError' });
      bad({ type: 'signed', signature: run.signature, ops: [ops[0] as Op, ops[2] as Op] }); // not consecutive
      bad({ type: 'signed', signature: run.signature, ops: [] });
      bad({ type: 'ops', ops, runs: [{ ...run, last: run.first + MAX_RUN_OPS }] }); // a run too long
      bad({ type: 'ops', ops, runs: Array.from({ length: MAX_RUNS_PER_FRAME + 1 }, () => run) });
    } finally {
      await author.close();
    }
  });
});
