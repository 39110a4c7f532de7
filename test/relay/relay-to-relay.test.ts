import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlazeDB } from '../../node/index.ts';
import { DEFAULT_CONFIG, type RelayConfig } from '../../relay/config.ts';
import { initDataDir } from '../../relay/data-dir.ts';
import { RelayHub } from '../../relay/hub.ts';
import { createLogger } from '../../relay/log.ts';
import { tempDir } from '../helpers/db.ts';
import { issue, until } from '../helpers/relay.ts';
import { freePort } from '../helpers/relay-process.ts';
import { TcpProxy } from '../helpers/tcp-proxy.ts';

const FAST = { listen: ['/ip4/127.0.0.1/tcp/0'], backoffBaseMs: 50, backoffCapMs: 300, ackIntervalMs: 100 };

describe('relay to relay', () => {
  it('should converge peers split between two relays across a partition between the relays, the GC frontier covering both sides', async () => {
    const dirA = tempDir('blaze-relay-a-');
    const dirB = tempDir('blaze-relay-b-');
    const [portA, portB] = [await freePort(), await freePort()];
    // Each relay reaches the other through a proxy the test can cut: a real partition.
    const [toA, toB] = [await TcpProxy.start(portA), await TcpProxy.start(portB)];
    const keysA = await initDataDir(dirA.path);
    const keysB = await initDataDir(dirB.path, { tokenKeyFrom: dirA.path }); // one deployment, one token key
    const base: RelayConfig = { ...DEFAULT_CONFIG, http: null, logLevel: 'silent', circuitRelay: null };
    const hubA = await RelayHub.start(
      { ...base, data: dirA.path, listen: [`/ip4/127.0.0.1/tcp/${portA}`], relays: [`/ip4/127.0.0.1/tcp/${toB.port}/p2p/${keysB.peerId}`] },
      keysA,
      createLogger('silent'),
    );
    const hubB = await RelayHub.start(
      {
        ...base,
        data: dirB.path,
        listen: [`/ip4/127.0.0.1/tcp/${portB}`],
        relays: [`/ip4/127.0.0.1/tcp/${toA.port}/p2p/${keysA.peerId}`],
        gcAuthority: false, // A is the home relay
      },
      keysB,
      createLogger('silent'),
    );
    const p1 = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
    const p2 = await BlazeDB.open({ storage: 'memory', dbId: 'team' });
    try {
      await p1.enableSync({ ...FAST, relay: hubA.addresses[0], token: await issue(keysA, 'ann', 'team') });
      await p2.enableSync({ ...FAST, relay: hubB.addresses[0], token: await issue(keysA, 'bob', 'team') });
      const first = await p1.collection('bugs').insert({ side: 'A', n: 1 });
      await until(async () => (await p2.collection('bugs').get(first)) !== undefined, 'p1 -> A -> B -> p2', 20_000);

      toA.partition();
      toB.partition();
      const onA = await p1.collection('bugs').insert({ side: 'A', n: 2 });
      const onB = await p2.collection('bugs').insert({ side: 'B', n: 3 });
      await p1.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await p2.synced('relay-durable', { signal: AbortSignal.timeout(10_000) });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await p2.collection('bugs').get(onA), undefined, 'the relays are cut off from each other');

      toA.heal();
      toB.heal();
      await until(async () => (await p2.collection('bugs').get(onA)) !== undefined, 'A side reaches p2 after the heal', 20_000);
      await until(async () => (await p1.collection('bugs').get(onB)) !== undefined, 'B side reaches p1 after the heal', 20_000);

      // The home relay learns of p2, which it never meets, from B's gossip; its frontier then
      // covers what both sides wrote.
      const home = await hubA.database('team');
      const relayB = (await hubB.database('team')).nodeId;
      await until(() => home.gcCollector.status().members.some((m) => m.id === p2.nodeId), 'p2 a member of the home relay', 30_000);
      const members = home.gcCollector.status().members.map((m) => m.id);
      for (const id of [p1.nodeId, p2.nodeId, relayB]) assert.ok(members.includes(id), id);
      const need = { [p1.nodeId]: p1.stats().versionVector[p1.nodeId], [p2.nodeId]: p2.stats().versionVector[p2.nodeId] };
      await until(
        () => {
          home.gcCollector.decide();
          const frontier = home.gcCollector.status().frontier;
          return Object.entries(need).every(([node, seq]) => (frontier[node] ?? 0) >= (seq as number));
        },
        'the frontier covering both sides',
        30_000,
      );
    } finally {
      await p1.close();
      await p2.close();
      await hubA.stop();
      await hubB.stop();
      await toA.close();
      await toB.close();
      dirA.cleanup();
      dirB.cleanup();
    }
  });
});
