import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/db.ts';

const BLAZE = new URL('../../node/cli/blaze.ts', import.meta.url).pathname;

function blaze(...args: string[]) {
  const r = spawnSync(process.execPath, [BLAZE, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** Starts `blaze peer` and resolves with its first listening address once it prints it. */
function startPeer(...args: string[]): Promise<{ child: ChildProcess; address: string; lines: string[] }> {
  const child = spawn(process.execPath, [BLAZE, ...args, 'peer', '--listen', '/ip4/127.0.0.1/tcp/0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`blaze peer exited (${code})`)));
    createInterface({ input: child.stdout as Readable }).on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line);
      if (event.event === 'listening') resolve({ child, address: event.addresses[0], lines });
    });
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

describe('blaze peer and blaze sync --once', () => {
  it('should start a new store from a compacted relay with a snapshot, saying so', async () => {
    const [r, fresh] = [tempDir(), tempDir()];
    let relay: ChildProcess | undefined;
    try {
      const rdb = ['--db', r.path];
      assert.equal(blaze(...rdb, 'init', '--db-id', 'cli-gc').code, 0);
      for (let i = 0; i < 3; i++) assert.equal(blaze(...rdb, 'insert', 'bugs', `{"n":${i}}`).code, 0);
      assert.equal(JSON.parse(blaze(...rdb, 'compact', '--gc-authority', '--json').out).opCount, 0);
      const started = await startPeer(...rdb, '--role', 'relay', '--gc-authority');
      relay = started.child;
      assert.equal(blaze('--db', fresh.path, 'init', '--db-id', 'cli-gc').code, 0);
      const synced = blaze('--db', fresh.path, 'sync', '--once', '--relay', started.address);
      assert.equal(synced.code, 0, synced.err);
      assert.match(synced.err, /snapshot from [0-9a-f]{16} applied: 3 records/);
      assert.equal(JSON.parse(blaze('--db', fresh.path, 'find', 'bugs', '--json').out).length, 3);
    } finally {
      if (relay) await stop(relay);
      r.cleanup();
      fresh.cleanup();
    }
  });

  it('should sync two stores through a relay peer, pick up writes made while a peer runs, and refuse a wrong token', async () => {
    const dirs = [tempDir(), tempDir(), tempDir()];
    const [r, a, b] = dirs.map((d) => ['--db', d.path]) as [string[], string[], string[]];
    let relay: ChildProcess | undefined;
    let peerA: ChildProcess | undefined;
    try {
      for (const db of [r, a, b]) assert.equal(blaze(...db, 'init', '--db-id', 'cli-mesh').code, 0);
      const started = await startPeer(...r, '--role', 'relay', '--token', 's3cret');
      relay = started.child;
      const auth = ['--relay', started.address, '--token', 's3cret'];

      const id = blaze(...a, 'insert', 'bugs', '{"title":"from A"}').out;
      const first = blaze(...a, 'sync', '--once', ...auth, '--json');
      assert.equal(first.code, 0, first.err);
      assert.deepEqual(JSON.parse(first.out), { caughtUp: true, peers: 1 });
      assert.equal(blaze(...b, 'sync', '--once', ...auth).code, 0);
      assert.equal(JSON.parse(blaze(...b, 'get', 'bugs', id, '--json').out).title, 'from A');

      // A long-lived peer on A; a second process writes to A's store meanwhile.
      peerA = spawn(process.execPath, [BLAZE, ...a, 'peer', ...auth], { stdio: 'ignore' });
      const later = blaze(...a, 'insert', 'bugs', '{"title":"written beside the peer"}').out;
      assert.match(later, /^[0-9a-f]{32}$/);
      let seen = false;
      for (let i = 0; i < 40 && !seen; i++) {
        assert.equal(blaze(...b, 'sync', '--once', ...auth).code, 0);
        seen = blaze(...b, 'get', 'bugs', later).code === 0;
        if (!seen) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(seen, 'the write made beside the running peer reached B through the relay');

      const refused = blaze(...b, 'sync', '--once', '--relay', started.address, '--token', 'wrong', '--timeout', '5000');
      assert.equal(refused.code, 1);
      assert.match(refused.err, /unauthorized|bad token/);
      const unreachable = blaze(
        ...b,
        'sync',
        '--once',
        '--relay',
        `/ip4/127.0.0.1/tcp/1/p2p/${started.address.split('/p2p/')[1]}`,
        '--timeout',
        '5000',
      );
      assert.equal(unreachable.code, 1);
      assert.equal(blaze(...b, 'sync', '--relay', started.address).code, 2, 'sync without --once is a usage error');
      assert.equal(blaze(...b, 'peer').code, 2, 'peer with neither --relay nor --mdns is a usage error');
    } finally {
      if (peerA) await stop(peerA);
      if (relay) assert.equal(await stop(relay), 0);
      for (const d of dirs) d.cleanup();
    }
  });
});
