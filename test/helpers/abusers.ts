/**
 * Misbehaving relay clients for tests and the load test, each on its own libp2p host: one that
 * floods sync streams, one that sends a frame larger than any allowed, and one that syncs with
 * a valid token and then stops reading.
 */
import { randomBytes } from 'node:crypto';
import type { Libp2p, Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { tokenCredentials } from '../../node/mesh/auth.ts';
import { createHost } from '../../node/mesh/host.ts';
import { streamDuplex } from '../../node/mesh/stream-duplex.ts';
import { frameHeader } from '../../node/transport/frames.ts';
import { BlazeDB } from '../../src/db/index.ts';
import { realScheduler } from '../../src/platform/index.ts';
import { databaseSource, PROTOCOL_ID, SyncSession } from '../../src/sync/index.ts';
import { until } from './relay.ts';

export interface Abuser {
  readonly host: Libp2p;
  /** Resolves when the relay has dropped every connection to this host. */
  disconnected(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function abuser(): Promise<Abuser> {
  const host = await createHost({ seed: randomBytes(32), listen: [], maxConnections: 8 });
  return {
    host,
    disconnected: (timeoutMs = 10_000) => until(() => host.getConnections().length === 0, 'the relay to disconnect the abuser', timeoutMs),
    stop: async () => {
      await host.stop();
    },
  };
}

/** Opens `count` sync streams one after another, dropping each at once. */
export async function floodStreams(relay: string, count: number): Promise<Abuser> {
  const a = await abuser();
  for (let i = 0; i < count; i++) {
    try {
      const stream = await a.host.dialProtocol(multiaddr(relay), PROTOCOL_ID, { signal: AbortSignal.timeout(2_000) });
      stream.abort(new Error('flood'));
    } catch {
      break; // cut off
    }
  }
  return a;
}

/** Announces a frame of 64 MiB on a sync stream (the relay takes at most its maxFrameBytes). */
export async function sendOversizeFrame(relay: string): Promise<Abuser> {
  const a = await abuser();
  try {
    const stream = await a.host.dialProtocol(multiaddr(relay), PROTOCOL_ID);
    stream.send(frameHeader(64 * 1024 * 1024));
    stream.send(new Uint8Array(1024));
  } catch (err) {
    await a.stop(); // a host left running would keep the test process alive
    throw err;
  }
  return a;
}

/**
 * Syncs as a full replica of `dbId` with a valid device token, then reads nothing more: the
 * relay's sends to it back up. `stream` ends when the relay closes it.
 */
export async function slowReader(relay: string, dbId: string, token: (peerId: string) => Promise<string>) {
  const db = await BlazeDB.open({ storage: 'memory', dbId });
  const seed = db.deviceKeySeed();
  const host = await createHost({ seed, listen: [], maxConnections: 8 });
  let stream: Stream;
  try {
    stream = await host.dialProtocol(multiaddr(relay), PROTOCOL_ID);
  } catch (err) {
    await host.stop();
    await db.close();
    throw err;
  }
  // Keeps what arrives while paused (a small buffer would reset the stream from this side).
  stream.maxReadBufferLength = 1 << 30;
  const credentials = tokenCredentials(await token(host.peerId.toString()), dbId, db.nodeId);
  // It never reads the relay's HELLO: its own handshake timeout must not end it first.
  const session = new SyncSession({
    source: databaseSource(db),
    duplex: streamDuplex(stream),
    credentials,
    scheduler: realScheduler,
    handshakeTimeoutMs: 10 * 60_000,
  });
  session.start();
  stream.pause();
  const closed = new Promise<void>((resolve) => stream.addEventListener('close', () => resolve(), { once: true }));
  return {
    closed,
    async stop() {
      session.close();
      await host.stop();
      await db.close();
    },
  };
}
