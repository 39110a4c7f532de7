/**
 * `blaze peer` and `blaze sync --once`: the mesh peer from the command line.
 *
 * peer: runs until SIGINT/SIGTERM, printing state changes and peers as they come and go.
 * sync --once: syncs with the relay and/or the LAN peers mDNS finds within a discovery window,
 * and succeeds only when caught up both ways (every local op acknowledged relay-durable by the
 * relay, or by the LAN peers found with --mdns alone; every op they hold applied here). It fails
 * with the reason when refused, unreachable, or not caught up within --timeout.
 */
import type { BlazeDB, SyncNetwork } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import type { MeshPeer } from '../mesh/mesh-peer.ts';
import type { Command, Output } from './commands.ts';
import { UsageError } from './commands.ts';

type Options = Readonly<Record<string, string | undefined>>;

/** Thrown when sync --once cannot finish: exit code 1 with this message. */
export class SyncFailedError extends Error {
  override name = 'SyncFailed';
}

function list(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').filter((s) => s.length > 0);
}

/** Longest wait a timer can take (2^31 - 1 ms, about 24.8 days). */
const MAX_MS = 2 ** 31 - 1;

function millis(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > MAX_MS)
    throw new UsageError(`${what} must be a whole number of milliseconds up to ${MAX_MS}`);
  return Number(value);
}

/** libp2p loads only for the commands that sync: `blaze get` starts as fast as before. */
const loadMesh = () => import('../mesh/mesh-peer.ts');

async function startMesh(db: BlazeDB, options: Options): Promise<MeshPeer> {
  const { MeshPeer } = await loadMesh();
  const relay = list(options.relay);
  const role = options.role ?? 'peer';
  if (role !== 'peer' && role !== 'relay') throw new UsageError("--role is 'peer' or 'relay'");
  if (role === 'peer' && relay.length === 0 && options.mdns === undefined) {
    throw new UsageError('give --relay MULTIADDR, --mdns, or both');
  }
  const listen = list(options.listen);
  try {
    return (await db.enableSync({
      relay,
      mdns: options.mdns !== undefined,
      webrtc: options.webrtc !== undefined,
      role,
      ...(listen.length > 0 ? { listen } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      // A partial replica of what the relay's read rules let the token read.
      ...(options['rules-filter'] !== undefined ? { filter: 'rules' as const } : {}),
      network: (d, o) => MeshPeer.start(d, o),
    })) as MeshPeer;
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * A snapshot arriving (a new device, or one behind what its peers compacted): a progress line
 * on a terminal, and a line once it is applied, on stderr.
 */
function showSnapshotProgress(db: BlazeDB): void {
  db.onSnapshotProgress(({ peer, chunks, bytes, done, records }) => {
    const mb = (bytes / 1048576).toFixed(1);
    if (done) {
      process.stderr.write(`${process.stderr.isTTY ? '\r' : ''}snapshot from ${peer} applied: ${records} records, ${mb} MB\n`);
    } else if (process.stderr.isTTY) {
      process.stderr.write(`\rsnapshot from ${peer}: ${chunks} chunks, ${mb} MB`);
    }
  });
}

/** Prints one line per event; JSON lines with --json. */
function narrate(mesh: SyncNetwork, json: boolean): void {
  const say = (event: string, detail: Record<string, unknown>) => {
    const line = json ? JSON.stringify({ event, ...detail }) : `${event} ${Object.values(detail).join(' ')}`;
    process.stdout.write(`${line}\n`);
  };
  mesh.on('state', (state) => say('state', { state }));
  mesh.on('peer:found', ({ peer }) => say('found', { peer }));
  mesh.on('peer:connected', ({ peer, kind }) => say('connected', { peer, kind }));
  mesh.on('peer:disconnected', ({ peer, reason }) => say('disconnected', { peer, reason }));
  mesh.on('conflict', ({ collection, id, fields }) => say('conflict', { collection, id, fields: fields.join(',') }));
  mesh.on('rejected', ({ collection, id, seq, kind }) => say('rejected', { collection, id, seq, kind }));
  mesh.on('error', (err) => say('error', { message: err.message }));
}

const peer: Command = {
  usage: 'peer [--relay MULTIADDR] [--mdns] [--webrtc] [--token T] [--rules-filter] [--listen MULTIADDR] [--role peer|relay]',
  summary: 'run a long-lived sync peer, printing its state changes (Ctrl-C stops it)',
  args: 0,
  async run(db, _args, options): Promise<Output> {
    showSnapshotProgress(db);
    const mesh = await startMesh(db, options);
    const json = options.json !== undefined;
    if (!json) for (const address of mesh.addresses) process.stdout.write(`listening ${address}\n`);
    else process.stdout.write(`${JSON.stringify({ event: 'listening', addresses: mesh.addresses })}\n`);
    narrate(mesh, json);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await db.disableSync();
    return { json: { stopped: true }, text: 'stopped' };
  },
};

const sync: Command = {
  usage: 'sync --once [--relay MULTIADDR] [--mdns] [--token T] [--rules-filter] [--window MS] [--timeout MS]',
  summary: 'sync until caught up both ways, then exit (non-zero with the reason if not)',
  args: 0,
  async run(db, _args, options): Promise<Output> {
    if (options.once === undefined) throw new UsageError('sync needs --once (blaze peer runs a long-lived peer)');
    const windowMs = millis(options.window, 2_000, '--window');
    const timeoutMs = millis(options.timeout, 30_000, '--timeout');
    showSnapshotProgress(db);
    const mesh = await startMesh(db, options);
    const relayIds = mesh.relayPeers;
    const relays = relayIds.size;
    if (options.verbose !== undefined) narrate(mesh, options.json !== undefined);
    // Reasons to report if the deadline passes; a configured relay's refusal ends it at once.
    let lastProblem: string | undefined;
    let refusedBy: string | undefined;
    mesh.on('peer:disconnected', ({ peer, reason }) => {
      lastProblem = `${peer}: ${reason}`;
    });
    const { MeshRefusedError } = await loadMesh();
    mesh.on('error', (err) => {
      lastProblem = err.message;
      if (err instanceof MeshRefusedError && relayIds.has(err.peer)) refusedBy = err.message;
    });
    const deadline = Date.now() + timeoutMs;
    // LAN peers need the discovery window; a relay is dialed at once.
    const started = Date.now();
    for (;;) {
      if (refusedBy) throw new SyncFailedError(`cannot sync: ${refusedBy}`);
      const sessions = mesh.sessions().filter((s) => s.session.state === 'syncing');
      const relaySessions = sessions.filter((s) => relayIds.has(s.peer));
      const discoveryOver = options.mdns === undefined || Date.now() - started >= windowMs;
      const enough = relays > 0 ? relaySessions.length > 0 : sessions.length > 0;
      if (discoveryOver && enough && mesh.state === 'live') break;
      if (Date.now() > deadline) {
        const why = lastProblem ?? (enough ? 'still catching up' : 'no peer reachable');
        throw new SyncFailedError(`not caught up within ${timeoutMs} ms: ${why}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (relays > 0) await db.synced('relay-durable', { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
    const peers = mesh.sessions().filter((s) => s.session.state === 'syncing').length;
    await db.disableSync();
    return { json: { caughtUp: true, peers }, text: `caught up with ${peers} peer${peers === 1 ? '' : 's'}` };
  },
};

export const SYNC_COMMANDS: Readonly<Record<string, Command>> = { peer, sync };
