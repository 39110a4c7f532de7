/**
 * The libp2p host every BlazeDB node runs, peer or relay: TCP and WebSockets, Noise, Yamux,
 * identify and ping, plus what a role asks for (WebRTC through circuit relay for peers behind
 * NAT, the circuit relay server on a relay, mDNS on a LAN). Optional parts load only when
 * asked for: a peer without WebRTC saves ~30 MB.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p';
import { livenessPinger } from './liveness.ts';

export interface HostOptions {
  /** The node's Ed25519 seed: its peer id. */
  seed: Uint8Array;
  listen: readonly string[];
  /** Dial and be reached by WebRTC through relays (adds circuit relay transport + WebRTC). */
  webrtcClient?: boolean;
  /** Serve circuit relay v2 (reservations, signalling) with these limits. */
  relayServer?: RelayServerLimits;
  /** Find LAN peers by mDNS (with a query interval, or libp2p's default of 10 s). */
  mdns?: { intervalMs?: number };
  maxConnections: number;
  /** Refuse connections from these peers (after Noise names them): peers cut off for abuse. */
  denyPeer?: (peer: string) => boolean;
  /**
   * New inbound connections per second from one IP address before libp2p refuses more, and
   * handshakes in progress at once (libp2p's defaults: 5 and 10, too few for a relay: devices
   * behind one NAT share an address, and every device reconnects after a relay restart).
   */
  inbound?: { perHostPerSecond: number; pending: number };
}

export interface RelayServerLimits {
  maxReservations: number;
  reservationTtlMs: number;
  /** Per relayed connection. */
  durationLimitMs: number;
  dataLimitBytes: bigint;
}

/**
 * Circuit relay limits, set on purpose: libp2p's defaults allow about 15 reservations and cut
 * relayed connections after 2 minutes or 128 KiB. Here a relayed connection only carries
 * WebRTC signalling (sync runs on the direct connection), so reservations are many and data
 * per relayed connection small.
 */
export const RELAY_LIMITS: RelayServerLimits = {
  maxReservations: 1_024,
  reservationTtlMs: 2 * 60 * 60_000,
  durationLimitMs: 2 * 60_000,
  dataLimitBytes: 1n << 20n,
};

export async function createHost(options: HostOptions): Promise<Libp2p> {
  const transports: NonNullable<Libp2pOptions['transports']> = [tcp(), webSockets()];
  if (options.webrtcClient) {
    const [{ circuitRelayTransport }, { webRTC }] = await Promise.all([import('@libp2p/circuit-relay-v2'), import('@libp2p/webrtc')]);
    transports.push(circuitRelayTransport(), webRTC());
  }
  const limits = options.relayServer;
  const relayServer = limits
    ? (await import('@libp2p/circuit-relay-v2')).circuitRelayServer({
        reservations: {
          maxReservations: limits.maxReservations,
          reservationTtl: limits.reservationTtlMs,
          defaultDurationLimit: limits.durationLimitMs,
          defaultDataLimit: limits.dataLimitBytes,
        },
      })
    : undefined;
  const mdns = options.mdns ? (await import('@libp2p/mdns')).mdns : undefined;
  const mdnsInterval = options.mdns?.intervalMs;
  return createLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', options.seed),
    addresses: { listen: [...options.listen] },
    // WebSockets: a relay behind an HTTP proxy or a firewall that only lets web traffic
    // through (listen on /ip4/.../tcp/N/ws to accept it).
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery: mdns ? [mdns(mdnsInterval !== undefined ? { interval: mdnsInterval } : {})] : [],
    connectionManager: {
      maxConnections: options.maxConnections,
      ...(options.inbound
        ? { inboundConnectionThreshold: options.inbound.perHostPerSecond, maxIncomingPendingConnections: options.inbound.pending }
        : {}),
    },
    ...(options.denyPeer
      ? { connectionGater: { denyInboundEncryptedConnection: (peer) => (options.denyPeer as (p: string) => boolean)(peer.toString()) } }
      : {}),
    // Pings find dead connections (a device that lost power leaves no FIN): ours, spread over
    // the interval (node/mesh/liveness.ts). libp2p's default gives up after ~5 s: a relay busy
    // with a hundred peers' writes, or a busy app, missed that and dropped healthy connections,
    // whose reconnects made it busier still (ingest of 100 peers fell from 4.5k to 0.6k ops/s).
    // A dead peer is found within about 45 s.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ping: ping(),
      liveness: livenessPinger({ intervalMs: 15_000, timeoutMs: 30_000 }),
      ...(relayServer ? { circuitRelay: relayServer } : {}),
    },
  });
}
