/**
 * The mesh on a real (namespaced) LAN: mDNS discovery, direct LAN sync with the relay cut off,
 * convergence through the relay after healing, and sync over a lossy, slow link. Needs root for
 * `ip netns`; without it the test fails saying so (CI here has it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLan, namespacesUnavailable } from '../helpers/netns.ts';
import { PeerClient } from '../helpers/peer-client.ts';

const DB = { dbId: 'lan-test' };
const QUICK = { backoffBaseMs: 100, backoffCapMs: 1_000, dialTimeoutMs: 3_000 };

describe('mesh peers in network namespaces', { concurrency: 1 }, () => {
  it('should find LAN peers by mDNS, sync directly while the relay is cut off, and converge through it after', async () => {
    const unavailable = namespacesUnavailable();
    if (unavailable) assert.fail(unavailable);
    const lan = createLan(['relay', 'a', 'b', 'c']);
    const peers: PeerClient[] = [];
    try {
      const start = async (host: string, mesh: Record<string, unknown>) => {
        const peer = await PeerClient.start((argv) => lan.spawn(host, argv), {
          ...DB,
          mesh: { listen: [`/ip4/${lan.ip(host)}/tcp/4001`], ...QUICK, ...mesh },
        });
        peers.push(peer);
        return peer;
      };
      const relay = await start('relay', { role: 'relay' });
      const relayAddress = `/ip4/${lan.ip('relay')}/tcp/4001/p2p/${relay.peerId}`;
      const a = await start('a', { relay: relayAddress, mdns: { intervalMs: 300 } });
      const b = await start('b', { relay: relayAddress, mdns: { intervalMs: 300 } });
      // c reaches only the relay: the "remote" device.
      const c = await start('c', { relay: relayAddress });

      // mDNS: a and b find each other and open one direct session.
      const lanSession = (other: PeerClient) => (e: { event: string; peer?: unknown; kind?: unknown }) =>
        e.event === 'connected' && e.peer === other.peerId && (e.kind === 'lan' || e.kind === 'inbound');
      await Promise.all([a.waitFor(lanSession(b)), b.waitFor(lanSession(a))]);

      // Relay cut off: a and b keep syncing directly; c, behind the relay, cannot see it.
      lan.link('relay', false);
      const id = (await a.call('insert', { collection: 'bugs', fields: { title: 'written while the relay is away' } })) as string;
      assert.equal((await b.waitForRecord('bugs', id)).title, 'written while the relay is away');
      assert.equal(await c.call('get', { collection: 'bugs', recordId: id }), null);

      // Heal: the relay gets it from a or b, and c from the relay.
      lan.link('relay', true);
      assert.equal((await c.waitForRecord('bugs', id, 30_000)).title, 'written while the relay is away');

      // A slow link to a that drops 10% of packets each way: still converges both ways.
      lan.impair('a', { loss: 0.1, rateKbit: 2_000 });
      const fromC = (await c.call('insert', { collection: 'bugs', fields: { title: 'from c over a bad link' } })) as string;
      const fromA = (await a.call('insert', { collection: 'bugs', fields: { title: 'from a over a bad link' } })) as string;
      await a.waitForRecord('bugs', fromC, 30_000);
      await c.waitForRecord('bugs', fromA, 30_000);
      await b.waitForRecord('bugs', fromA, 30_000);
      lan.impair('a', undefined);
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
      lan.cleanup();
    }
  });
});

describe('WebRTC through relay signalling', { concurrency: 1 }, () => {
  it('should introduce two peers that cannot reach each other by TCP, connect them over WebRTC, and sync there', async () => {
    const unavailable = namespacesUnavailable();
    if (unavailable) assert.fail(unavailable);
    const lan = createLan(['relay', 'a', 'b']);
    const peers: PeerClient[] = [];
    try {
      // a and b reach the relay, but a firewall drops every TCP packet between them.
      lan.firewall('a', ['-p', 'tcp', '-s', lan.ip('b'), '-j', 'DROP']);
      lan.firewall('a', ['-p', 'tcp', '-d', lan.ip('b'), '-j', 'DROP'], 'OUTPUT');
      const start = async (host: string, mesh: Record<string, unknown>) => {
        const peer = await PeerClient.start((argv) => lan.spawn(host, argv), {
          dbId: 'webrtc-test',
          mesh: { listen: [`/ip4/${lan.ip(host)}/tcp/4001`], ...QUICK, webrtc: true, ...mesh },
        });
        peers.push(peer);
        return peer;
      };
      const relay = await start('relay', { role: 'relay' });
      const relayAddress = `/ip4/${lan.ip('relay')}/tcp/4001/p2p/${relay.peerId}`;
      const b = await start('b', { relay: relayAddress, introductionsIntervalMs: 300 });
      // b's WebRTC address appears once its reservation on the relay is made.
      let webrtcAddress: string | undefined;
      for (let i = 0; i < 100 && !webrtcAddress; i++) {
        webrtcAddress = ((await b.call('addresses')) as string[]).find((a) => a.includes('/webrtc'));
        if (!webrtcAddress) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(webrtcAddress, 'b has a /webrtc address through the relay');
      // a is given only the relay: the relay introduces b, and they connect by WebRTC.
      const a = await start('a', { relay: relayAddress, introductionsIntervalMs: 300 });
      await a.waitFor((e) => e.event === 'connected' && e.peer === b.peerId, 30_000);
      const sessions = (await a.call('sessionAddresses')) as { peer: string; addresses: string[] }[];
      const withB = sessions.find((s) => s.peer === b.peerId);
      assert.ok(
        withB?.addresses.some((address) => address.includes('/webrtc')),
        JSON.stringify(sessions),
      );
      const id = (await b.call('insert', { collection: 'bugs', fields: { title: 'over WebRTC' } })) as string;
      assert.equal((await a.waitForRecord('bugs', id)).title, 'over WebRTC');
    } finally {
      await Promise.all(peers.map((p) => p.stop()));
      lan.cleanup();
    }
  });
});
