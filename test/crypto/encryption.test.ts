import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { KeyRequiredError, NotEncryptedError, TamperedDataError, WrongKeyError } from '../../src/crypto/index.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import { SeededRandom } from '../../src/util/prng.ts';
import { tempDir } from '../helpers/db.ts';

const KEY = new SeededRandom(1).bytes(32);
const OTHER_KEY = new SeededRandom(2).bytes(32);
const CANARY = 'CANARY-7f3a9c-plaintext-must-not-appear';

/** Every file of the store directory (database, WAL, shared memory), concatenated. */
function storeBytes(dir: string): Buffer {
  return Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
}

function rawDb(dir: string): DatabaseSync {
  return new DatabaseSync(join(dir, 'blaze.db'));
}

async function writeCanaries(db: BlazeDB): Promise<string> {
  const notes = db.collection('notes');
  await notes.declare({ tags: 'set', owner: 'mv' });
  const id = await notes.insert({ body: `secret ${CANARY}`, nested: { deep: [CANARY] }, tags: [CANARY], owner: CANARY });
  await notes.update(id, { title: `${CANARY} title` });
  await notes.add(id, 'tags', `${CANARY}-2`);
  await notes.unset(id, 'title');
  await db.undo(db.history('notes', id).at(-1)?.opId as string);
  return id;
}

describe('encryption at rest', () => {
  it('should leave no plaintext of stored values in the database file, its WAL or the logs', async () => {
    const logged: string[] = [];
    const saved = { log: console.log, error: console.error, warn: console.warn };
    for (const k of ['log', 'error', 'warn'] as const) console[k] = (...args: unknown[]) => logged.push(args.map(String).join(' '));
    const encrypted = tempDir();
    const plain = tempDir();
    try {
      const db = await BlazeDB.open({ path: encrypted.path, encryption: { key: KEY } });
      const id = await writeCanaries(db);
      assert.equal((await db.collection('notes').get(id))?.body, `secret ${CANARY}`);
      const bytes = storeBytes(encrypted.path); // while open: the WAL holds the recent pages
      await db.close();
      assert.equal(bytes.indexOf(CANARY), -1, 'canary found in the encrypted store');
      assert.equal(storeBytes(encrypted.path).indexOf(CANARY), -1, 'canary found after close');
      assert.ok(!logged.some((l) => l.includes(CANARY)), 'canary found in the logs');
      // The same writes without encryption do show the canary: the scan can see it.
      const pdb = await BlazeDB.open({ path: plain.path });
      await writeCanaries(pdb);
      assert.notEqual(storeBytes(plain.path).indexOf(CANARY), -1);
      await pdb.close();
    } finally {
      Object.assign(console, saved);
      encrypted.cleanup();
      plain.cleanup();
    }
  });

  it('should reopen with the right key, and refuse a missing or wrong key without touching the store', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, encryption: { key: KEY } });
      const id = await db.collection('c').insert({ n: 1 });
      const { nodeId } = db;
      await db.close();
      const file = join(dir.path, 'blaze.db');
      const before = readFileSync(file);
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { key: OTHER_KEY } }), WrongKeyError);
      await assert.rejects(BlazeDB.open({ path: dir.path }), KeyRequiredError);
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { passphrase: 'a passphrase' } }), ValidationError);
      assert.deepEqual(readFileSync(file), before);
      const again = await BlazeDB.open({ path: dir.path, encryption: { key: KEY } });
      assert.equal(again.nodeId, nodeId);
      assert.deepEqual(await again.collection('c').get(id), { _id: id, n: 1 });
      assert.equal(again.stats().encrypted, true);
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should derive the key from a passphrase with scrypt, and refuse another passphrase', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, encryption: { passphrase: 'correct horse battery' } });
      const id = await db.collection('c').insert({ n: 1 });
      await db.close();
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { passphrase: 'wrong horse battery' } }), WrongKeyError);
      const again = await BlazeDB.open({ path: dir.path, encryption: { passphrase: 'correct horse battery' } });
      assert.deepEqual(await again.collection('c').get(id), { _id: id, n: 1 });
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should refuse a key for a store created without encryption, and bad key options', async () => {
    const dir = tempDir();
    try {
      await (await BlazeDB.open({ path: dir.path })).close();
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { key: KEY } }), NotEncryptedError);
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { key: new Uint8Array(16) } }), ValidationError);
      await assert.rejects(BlazeDB.open({ path: dir.path, encryption: { passphrase: 'short' } }), ValidationError);
    } finally {
      dir.cleanup();
    }
  });

  it('should detect a flipped bit, a swapped row and a rolled-back row', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, encryption: { key: KEY } });
      const c = db.collection('c');
      const a = await c.insert({ n: 1 }, { id: 'a' });
      const b = await c.insert({ n: 2 }, { id: 'b' });
      await db.close();
      const raw = rawDb(dir.path);
      const row = (id: string) =>
        raw.prepare('SELECT state, doc FROM blaze_records WHERE coll = ? AND id = ?').get('c', id) as {
          state: Uint8Array;
          doc: Uint8Array;
        };
      const put = (id: string, r: { state: Uint8Array; doc: Uint8Array }) =>
        raw.prepare('UPDATE blaze_records SET state = ?, doc = ? WHERE coll = ? AND id = ?').run(r.state, r.doc, 'c', id);
      const reopen = () => BlazeDB.open({ path: dir.path, encryption: { key: KEY } });

      // Flipped bit in a doc.
      const original = row(a);
      const flipped = Uint8Array.from(original.doc);
      flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 1;
      put(a, { ...original, doc: flipped });
      let d = await reopen();
      await assert.rejects(d.collection('c').get(a), TamperedDataError);
      await assert.rejects(d.collection('c').find({}), TamperedDataError);
      await d.close();
      put(a, original);

      // Swapped rows: a's payloads under b's key.
      const rowB = row(b);
      put(b, original);
      d = await reopen();
      await assert.rejects(d.collection('c').get(b), TamperedDataError);
      await d.close();
      put(b, rowB);

      // Rolled back: an old version of a put back after an update.
      d = await reopen();
      await d.collection('c').update(a, { n: 10 });
      await d.close();
      put(a, original);
      d = await reopen();
      await assert.rejects(d.collection('c').get(a), TamperedDataError);
      await assert.rejects(d.collection('c').update(a, { n: 11 }), TamperedDataError);
      await d.close();

      // A record hidden: its doc removed, or its whole row deleted.
      raw.prepare('UPDATE blaze_records SET doc = NULL WHERE coll = ? AND id = ?').run('c', b);
      d = await reopen();
      await assert.rejects(d.collection('c').get(b), TamperedDataError);
      await d.close();
      put(b, rowB);
      raw.prepare('DELETE FROM blaze_records WHERE coll = ? AND id = ?').run('c', b);
      d = await reopen();
      await assert.rejects(d.collection('c').get(b), TamperedDataError);
      await d.close();
      raw.prepare('INSERT INTO blaze_records(coll, n, id, state, doc) VALUES (?, 99, ?, ?, ?)').run('c', b, rowB.state, rowB.doc);

      // A flipped bit in an op of the log.
      const op = raw.prepare('SELECT node, seq, payload FROM blaze_ops WHERE rec = ?').get('b') as {
        node: string;
        seq: number;
        payload: Uint8Array;
      };
      const bad = Uint8Array.from(op.payload);
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x80;
      raw.prepare('UPDATE blaze_ops SET payload = ? WHERE node = ? AND seq = ?').run(bad, op.node, op.seq);
      d = await reopen();
      assert.throws(() => d.history('c', 'b'), TamperedDataError);
      assert.deepEqual(await d.collection('c').get('b'), { _id: 'b', n: 2 }); // the record itself is intact
      await d.close();
      raw.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should make a new data key before the nonce limit and still read everything', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, encryption: { key: KEY, rotateAfter: 10 } });
      const c = db.collection('c');
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await c.insert({ i }));
      const keys = (db.engine.cipher as unknown as { keyCount: number }).keyCount;
      assert.ok(keys >= 5, `only ${keys} data keys after ~60 seals with rotateAfter 10`);
      await db.close();
      const again = await BlazeDB.open({ path: dir.path, encryption: { key: KEY, rotateAfter: 10 } });
      for (let i = 0; i < 20; i++) assert.equal((await again.collection('c').get(ids[i] as string))?.i, i);
      assert.equal(again.history('c', ids[0] as string).length, 1);
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should not use a data key made in a transaction that rolled back', async () => {
    const dir = tempDir();
    try {
      const db = await BlazeDB.open({ path: dir.path, encryption: { key: KEY, rotateAfter: 4 } });
      const c = db.collection('c');
      await c.insert({ n: 0 }, { id: 'first' });
      assert.throws(() =>
        db.transaction(() => {
          for (let i = 0; i < 5; i++) c.insertNow({ i });
          c.findNow({ op: 'and', items: [] }); // flushes: seals with a new key inside the transaction
          throw new Error('rolled back');
        }),
      );
      await c.insert({ n: 1 }, { id: 'after' });
      await db.close();
      const again = await BlazeDB.open({ path: dir.path, encryption: { key: KEY, rotateAfter: 4 } });
      assert.equal((await again.collection('c').get('after'))?.n, 1);
      assert.equal(again.history('c', 'after').length, 1);
      await again.close();
    } finally {
      dir.cleanup();
    }
  });

  it('should work on in-memory storage too', async () => {
    const db = await BlazeDB.open({ storage: 'memory', encryption: { key: KEY } });
    const id = await db.collection('c').insert({ secret: CANARY });
    assert.equal((await db.collection('c').get(id))?.secret, CANARY);
    await db.close();
  });
});
