/**
 * The liveness pinger (node/mesh/liveness.ts): every connection pinged about once per interval,
 * spread evenly over it rather than all at once; an unanswered ping aborts its connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Connection } from '@libp2p/interface';
import { createHost } from '../../node/mesh/host.ts';
import { LivenessPinger } from '../../node/mesh/liveness.ts';

type Answer = 'echo' | 'silent' | 'unsupported';

/** A connection whose ping streams echo, never answer, or whose peer refuses the protocol. */
function fakeConnection(answer: Answer) {
  const state = { pings: 0, aborted: undefined as Error | undefined, closedStreams: 0 };
  const conn = {
    status: 'open',
    abort(err: Error) {
      state.aborted = err;
    },
    async newStream() {
      state.pings++;
      if (answer === 'unsupported') throw Object.assign(new Error('protocol selection failed'), { name: 'UnsupportedProtocolError' });
      const sent: Uint8Array[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      return {
        send(data: Uint8Array) {
          if (answer === 'echo') sent.push(data);
          wake?.();
          return true;
        },
        async close() {
          state.closedStreams++;
        },
        abort() {
          ended = true;
          wake?.();
        },
        async *[Symbol.asyncIterator]() {
          for (;;) {
            const next = sent.shift();
            if (next) yield next;
            else if (ended) return;
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        },
      };
    },
  };
  return { conn: conn as unknown as Connection, state };
}

function pinger(connections: Connection[], init: { intervalMs: number; timeoutMs: number; tickMs: number }) {
  return new LivenessPinger({ connectionManager: { getConnections: () => connections } }, init);
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('liveness pinger', () => {
  it('should ping each connection about once per interval, an even share per tick', async () => {
    const fakes = Array.from({ length: 40 }, () => fakeConnection('echo'));
    const p = pinger(
      fakes.map((f) => f.conn),
      { intervalMs: 400, timeoutMs: 10_000, tickMs: 20 },
    );
    try {
      const total = () => fakes.reduce((sum, f) => sum + f.state.pings, 0);
      const perTick: number[] = [];
      for (let now = 0; now <= 1_180; now += 20) {
        const before = total();
        p.tick(now);
        perTick.push(total() - before);
      }
      await settle();
      // Nothing before the first interval has passed; then 40 x 20 / 400 = 2 per tick at most.
      assert.deepEqual(perTick.slice(0, 20), Array(20).fill(0));
      assert.equal(Math.max(...perTick), 2);
      // Ticks 400..1180 ms: 40 ticks of 2 = every connection twice, none more.
      assert.deepEqual(
        fakes.map((f) => f.state.pings),
        Array(40).fill(2),
      );
      assert.ok(fakes.every((f) => f.state.aborted === undefined && f.state.closedStreams === 2));
    } finally {
      p.stop();
    }
  });

  it('should abort a connection whose ping goes unanswered, and keep one whose peer refuses the protocol', async () => {
    const silent = fakeConnection('silent');
    const refusing = fakeConnection('unsupported');
    const p = pinger([silent.conn, refusing.conn], { intervalMs: 100, timeoutMs: 50, tickMs: 100 });
    try {
      p.tick(0);
      p.tick(100);
      await settle();
      assert.equal(silent.state.pings, 1);
      assert.equal(silent.state.aborted, undefined, 'not before the timeout');
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.ok(silent.state.aborted, 'aborted after the timeout');
      assert.equal(refusing.state.pings, 1);
      assert.equal(refusing.state.aborted, undefined);
    } finally {
      p.stop();
    }
  });

  it('should ping real libp2p connections on loopback without dropping them', async () => {
    const a = await createHost({ seed: randomBytes(32), listen: ['/ip4/127.0.0.1/tcp/0'], maxConnections: 8 });
    const b = await createHost({ seed: randomBytes(32), listen: ['/ip4/127.0.0.1/tcp/0'], maxConnections: 8 });
    try {
      await a.dial(b.getMultiaddrs());
      const aborted: Error[] = [];
      let streams = 0;
      // Each connection's abort is watched (a failed ping aborts it), and its new streams counted.
      const proxies = new WeakMap<Connection, Connection>();
      const watch = (conn: Connection) =>
        new Proxy(conn, {
          get: (target, key) => {
            if (key === 'abort') return (err: Error) => aborted.push(err);
            if (key === 'newStream') streams++;
            const value = Reflect.get(target, key);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      const watched = () =>
        a.getConnections().map((conn) => {
          if (!proxies.has(conn)) proxies.set(conn, watch(conn));
          return proxies.get(conn) as Connection;
        });
      const p = new LivenessPinger({ connectionManager: { getConnections: watched } }, { intervalMs: 100, timeoutMs: 5_000, tickMs: 100 });
      const [conn] = a.getConnections();
      p.tick(0);
      await p.tick(100);
      await p.tick(200);
      assert.equal(streams, 2, 'pinged at 100 and 200 ms');
      assert.deepEqual(aborted, []);
      assert.equal(conn?.status, 'open');
      p.stop();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
