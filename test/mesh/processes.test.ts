/**
 * Five mesh peers and a relay, each a separate process over loopback: a ring of direct links
 * (a cycle) with only two peers also on the relay. Every write reaches every node once the mesh
 * settles, including through multi-hop paths, and nothing is sent twice over a cycle for ever.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { PeerClient } from '../helpers/peer-client.ts';

const launch = (argv: string[]) => spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
const QUICK = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 100, backoffCapMs: 1_000 };

describe('mesh peers as separate processes', { concurrency: 1 }, () => {
  it('should converge five peers in a ring plus a relay, multi-hop, with every write everywhere', async () => {
    const nodes: PeerClient[] = [];
    try {
      const relay = await PeerClient.start(launch, { dbId: 'ring', mesh: { ...QUICK, role: 'relay' } });
      nodes.push(relay);
      const peers: PeerClient[] = [];
      for (let i = 0; i < 5; i++) {
        const links = i === 0 ? [] : [peers[i - 1]?.addresses[0]];
        if (i === 4) links.push(peers[0]?.addresses[0]); // close the ring
        const mesh = { ...QUICK, peers: links, ...(i % 2 === 0 && i < 4 ? { relay: relay.addresses[0] } : {}) };
        const peer = await PeerClient.start(launch, { dbId: 'ring', mesh });
        peers.push(peer);
        nodes.push(peer);
      }
      const ids: string[] = [];
      for (const [i, peer] of peers.entries()) {
        for (let k = 0; k < 20; k++) ids.push((await peer.call('insert', { collection: 'bugs', fields: { from: i, k } })) as string);
      }
      const deadline = Date.now() + 30_000;
      for (;;) {
        const vectors = await Promise.all(nodes.map((n) => n.call('version')));
        const totals = vectors.map((v) => Object.values(v as Record<string, number>).reduce((a, b) => a + b, 0));
        if (totals.every((t) => t === 100)) break;
        if (Date.now() > deadline) assert.fail(`not converged: ops held per node ${totals.join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const node of nodes) assert.ok(await node.call('get', { collection: 'bugs', recordId: ids[ids.length - 1] }));
      const stats = (await Promise.all(nodes.map((n) => n.call('stats')))) as { opsReceived: number }[];
      const received = stats.reduce((n, s) => n + s.opsReceived, 0);
      // 100 ops to each of 5 other nodes at least; duplicates over the ring and relay stay bounded.
      assert.ok(received >= 500, `${received} ops received`);
      assert.ok(received <= 1000, `${received} ops received: duplicates over the cycle are not bounded`);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});
