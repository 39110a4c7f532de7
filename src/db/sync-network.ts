/**
 * The seam between the database and a network: `db.enableSync()` hands the database to a
 * network factory. src/ knows no transport; the Node entry (node/index.ts) registers the
 * libp2p mesh peer as the default, and tests or other runtimes may pass their own.
 */
import type { SyncFilterSpec } from '../sync/filter.ts';
import type { BlazeDB } from './database.ts';

export interface EnableSyncOptions {
  /** Relay multiaddrs (each ending in /p2p/<peer id>). */
  relay?: string | readonly string[];
  /** Find LAN peers by mDNS. */
  mdns?: boolean | { intervalMs?: number };
  /**
   * Make this database a partial replica first (see `setSyncFilter`). `'rules'`: the most the
   * relay's read rules let this device's token read (the network learns the rules, signed, from
   * the relay, or uses those it kept; docs/relay.md).
   */
  filter?: SyncFilterSpec | 'rules';
  /** Credentials of this device for the database. */
  token?: string;
  /** Use this network instead of the registered default. */
  network?: SyncNetworkFactory;
  /** Further options the network understands (listen addresses, backoff, ...). */
  [option: string]: unknown;
}

/** Sync as a whole, as the app sees it. */
export type SyncState = 'connecting' | 'catching-up' | 'live' | 'offline';

export interface SyncNetworkEvents {
  /** Discovery found a LAN peer (of any database: authorization comes with the session). */
  'peer:found': { peer: string };
  /** A sync session with a peer reached the syncing state (`kind`: 'lan', 'relay' or 'inbound'). */
  'peer:connected': { peer: string; kind: string };
  /** A session ended (reason: the session's close code and message). */
  'peer:disconnected': { peer: string; reason: string };
  state: SyncState;
  /** After a commit of synced ops, a record they touched has concurrent values to settle. */
  conflict: { collection: string; id: string; fields: string[] };
  /**
   * A write of this device that a relay's write rules refused (docs/relay.md, Write rules): it
   * became a void, and its effects are gone from this replica (and every other).
   */
  rejected: RejectedWrite;
  error: Error;
}

export interface RejectedWrite {
  readonly collection: string;
  readonly id: string;
  /** The write's sequence number on this device. */
  readonly seq: number;
  readonly kind: 'insert' | 'update' | 'delete';
  /** The fields it wrote. */
  readonly fields: string[];
}

/** A running network: what `enableSync` returns. */
export interface SyncNetwork {
  readonly state: SyncState;
  /** Subscribes to an event; returns the unsubscribe. */
  on<K extends keyof SyncNetworkEvents>(event: K, handler: (value: SyncNetworkEvents[K]) => void): () => void;
  stop(): Promise<void>;
}

export type SyncNetworkFactory = (db: BlazeDB, options: EnableSyncOptions) => Promise<SyncNetwork>;

let defaultNetwork: SyncNetworkFactory | undefined;

/** Sets the network `enableSync` uses when none is given (the Node entry registers libp2p). */
export function registerSyncNetwork(factory: SyncNetworkFactory): void {
  defaultNetwork = factory;
}

export function registeredSyncNetwork(): SyncNetworkFactory | undefined {
  return defaultNetwork;
}
