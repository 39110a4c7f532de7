/**
 * `blaze-node start` settings, from (weakest first) defaults, a JSON config file, environment
 * variables and flags. Every value is checked here; a bad one is a RelayConfigError naming
 * where it came from, before anything starts.
 */
import { readFileSync } from 'node:fs';
import { multiaddr } from '@multiformats/multiaddr';
import { validateDbId } from '../src/db/index.ts';
import { Rules } from '../src/rules/index.ts';
import { RelayConfigError } from './errors.ts';
import { parseDuration } from './token-issuer.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface RelayConfig {
  /** Data directory: keys and one store per database. */
  data: string;
  /** libp2p listen multiaddrs. */
  listen: string[];
  /** HTTP address for /healthz, /metrics and /query, or null for none. */
  http: { host: string; port: number } | null;
  /** Databases served: null for any database a valid token names. */
  databases: string[] | null;
  /** Open libp2p connections at most. */
  maxConnections: number;
  /** Largest sync frame accepted. */
  maxFrameBytes: number;
  /** Ops per second one peer may send, on average over a few seconds; more is cut off. */
  maxOpsPerSecondPerPeer: number;
  /** A session whose peer reads nothing this long is closed `too-slow` (seconds). */
  stallTimeoutSeconds: number;
  /** What an acknowledged op survives: 'process' (kill -9) or 'power' (fsync per commit). */
  durability: 'process' | 'power';
  /** This relay is the home relay of its databases: it decides the GC frontier and evictions. */
  gcAuthority: boolean;
  /** A member silent longer than this is evicted from the GC frontier (seconds). */
  evictAfterSeconds: number;
  /** How often each database compacts what every member holds (seconds). */
  gcIntervalSeconds: number;
  /** Other relays of the deployment (multiaddrs ending in /p2p/<peer id>): every database is synced with them. */
  relays: string[];
  /** Circuit relay v2 reservations for peers behind NAT (WebRTC signalling). */
  circuitRelay: { maxReservations: number } | null;
  /** Row-level read rules (a JSON file, docs/relay.md), or null: any valid token reads everything. */
  rules: Rules | null;
  logLevel: LogLevel;
}

export const DEFAULT_CONFIG: RelayConfig = {
  data: './blaze-data',
  listen: ['/ip4/0.0.0.0/tcp/4001', '/ip4/0.0.0.0/tcp/4002/ws'],
  http: { host: '127.0.0.1', port: 4080 },
  databases: null,
  maxConnections: 1_024,
  maxFrameBytes: 4 * 1024 * 1024,
  maxOpsPerSecondPerPeer: 20_000,
  stallTimeoutSeconds: 60,
  durability: 'process',
  gcAuthority: true,
  evictAfterSeconds: 30 * 86_400,
  gcIntervalSeconds: 60,
  relays: [],
  circuitRelay: { maxReservations: 1_024 },
  rules: null,
  logLevel: 'info',
};

type Key = keyof RelayConfig;

/** Each setting: its flag, environment variable and parser (text -> value). */
const SETTINGS: { [K in Key]: { flag: string; env: string; parse: (text: string, source: string) => RelayConfig[K] } } = {
  data: { flag: '--data', env: 'BLAZE_NODE_DATA', parse: (t, s) => nonEmpty(t, s) },
  listen: { flag: '--listen', env: 'BLAZE_NODE_LISTEN', parse: (t, s) => list(t).map((a) => address(a, s)) },
  http: { flag: '--http', env: 'BLAZE_NODE_HTTP', parse: hostPort },
  databases: {
    flag: '--databases',
    env: 'BLAZE_NODE_DATABASES',
    parse: (t, s) => (t === '*' ? null : list(t).map((id) => dbId(id, s))),
  },
  maxConnections: { flag: '--max-connections', env: 'BLAZE_NODE_MAX_CONNECTIONS', parse: (t, s) => count(t, s, 1, 1_000_000) },
  maxFrameBytes: {
    flag: '--max-frame-bytes',
    env: 'BLAZE_NODE_MAX_FRAME_BYTES',
    parse: (t, s) => count(t, s, 64 * 1024, 64 * 1024 * 1024),
  },
  maxOpsPerSecondPerPeer: {
    flag: '--max-ops-per-second',
    env: 'BLAZE_NODE_MAX_OPS_PER_SECOND',
    parse: (t, s) => count(t, s, 1, 10_000_000),
  },
  stallTimeoutSeconds: { flag: '--stall-timeout', env: 'BLAZE_NODE_STALL_TIMEOUT', parse: (t, s) => duration(t, s) },
  durability: { flag: '--durability', env: 'BLAZE_NODE_DURABILITY', parse: (t, s) => oneOf(t, s, ['process', 'power'] as const) },
  gcAuthority: { flag: '--gc-authority', env: 'BLAZE_NODE_GC_AUTHORITY', parse: boolean },
  evictAfterSeconds: { flag: '--evict-after', env: 'BLAZE_NODE_EVICT_AFTER', parse: (t, s) => duration(t, s) },
  gcIntervalSeconds: { flag: '--gc-interval', env: 'BLAZE_NODE_GC_INTERVAL', parse: (t, s) => duration(t, s) },
  relays: { flag: '--relays', env: 'BLAZE_NODE_RELAYS', parse: (t, s) => list(t).map((a) => relayAddress(a, s)) },
  circuitRelay: {
    flag: '--circuit-relay-reservations',
    env: 'BLAZE_NODE_CIRCUIT_RELAY_RESERVATIONS',
    parse: (t, s) => (t === '0' ? null : { maxReservations: count(t, s, 1, 100_000) }),
  },
  rules: { flag: '--rules', env: 'BLAZE_NODE_RULES', parse: (t, s) => (t === 'none' ? null : rulesFile(t, s)) },
  logLevel: {
    flag: '--log-level',
    env: 'BLAZE_NODE_LOG_LEVEL',
    parse: (t, s) => oneOf(t, s, ['debug', 'info', 'warn', 'error', 'silent'] as const),
  },
};

/** The flags `blaze-node start` takes (name without dashes -> setting). */
export const START_FLAGS: Record<string, Key> = Object.fromEntries(
  (Object.entries(SETTINGS) as [Key, { flag: string }][]).map(([key, s]) => [s.flag.slice(2), key]),
);

export function settingsHelp(): string {
  return (Object.entries(SETTINGS) as [Key, { flag: string; env: string }][])
    .map(([key, s]) => `  ${s.flag.padEnd(30)} ${s.env.padEnd(38)} default ${JSON.stringify(DEFAULT_CONFIG[key])}`)
    .join('\n');
}

/**
 * The configuration: defaults, then `configFile` (JSON whose keys are RelayConfig's, values as
 * JSON or as the text a flag takes), then `env`, then `flags` (setting -> text).
 */
export function loadConfig(flags: Partial<Record<Key, string>>, env: Record<string, string | undefined>, configFile?: string): RelayConfig {
  const config: RelayConfig = structuredClone(DEFAULT_CONFIG);
  const set = <K extends Key>(key: K, text: string, source: string) => {
    config[key] = SETTINGS[key].parse(text, source);
  };
  if (configFile !== undefined) {
    for (const [key, value] of Object.entries(readConfigFile(configFile))) {
      if (!(key in SETTINGS))
        throw new RelayConfigError(`${configFile}: ${key}`, `unknown setting (known: ${Object.keys(SETTINGS).join(', ')})`);
      const source = `${configFile}: ${key}`;
      set(key as Key, asText(key as Key, value, source), source);
    }
  }
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const text = env[SETTINGS[key].env];
    if (text !== undefined && text !== '') set(key, text, SETTINGS[key].env);
  }
  for (const [key, text] of Object.entries(flags) as [Key, string | undefined][])
    if (text !== undefined) set(key, text, SETTINGS[key].flag);
  return config;
}

function readConfigFile(file: string): Record<string, unknown> {
  const parsed = readJson(file, file);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RelayConfigError(file, 'not a JSON object');
  return parsed as Record<string, unknown>;
}

function rulesFile(file: string, source: string): Rules {
  const where = `${source}: ${file}`;
  try {
    return Rules.parse(readJson(file, where));
  } catch (err) {
    if (err instanceof RelayConfigError) throw err;
    throw new RelayConfigError(where, (err as Error).message);
  }
}

function readJson(file: string, source: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RelayConfigError(source, `cannot read: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RelayConfigError(source, `not JSON: ${(err as Error).message}`);
  }
}

/** A config file value as the text its flag would take (null: none, for those that can be). */
function asText(key: Key, value: unknown, source: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(',');
  const none: Partial<Record<Key, string>> = { http: 'off', databases: '*', circuitRelay: '0', rules: 'none' };
  if (value === null && none[key] !== undefined) return none[key];
  throw new RelayConfigError(source, `unexpected value ${JSON.stringify(value)}`);
}

function nonEmpty(text: string, source: string): string {
  if (text.length === 0) throw new RelayConfigError(source, 'empty');
  return text;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function address(text: string, source: string): string {
  try {
    return multiaddr(text).toString();
  } catch (err) {
    throw new RelayConfigError(source, `not a multiaddr: ${text} (${(err as Error).message})`);
  }
}

function relayAddress(text: string, source: string): string {
  const a = address(text, source);
  const peer = multiaddr(a)
    .getComponents()
    .findLast((c) => c.name === 'p2p')?.value;
  if (!peer) throw new RelayConfigError(source, `a relay address ends in /p2p/<peer id>: ${text}`);
  return a;
}

function hostPort(text: string, source: string): RelayConfig['http'] {
  if (text === 'off') return null;
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) throw new RelayConfigError(source, `HOST:PORT or 'off', not '${text}'`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function dbId(text: string, source: string): string {
  try {
    validateDbId(text);
  } catch (err) {
    throw new RelayConfigError(source, (err as Error).message);
  }
  return text;
}

function count(text: string, source: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new RelayConfigError(source, `a whole number from ${min} to ${max}, not '${text}'`);
  return n;
}

function oneOf<T extends string>(text: string, source: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new RelayConfigError(source, `one of ${allowed.join(', ')}, not '${text}'`);
  return text as T;
}

function boolean(text: string, source: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new RelayConfigError(source, `true or false, not '${text}'`);
}

function duration(text: string, source: string): number {
  try {
    return parseDuration(source, text);
  } catch (err) {
    throw new RelayConfigError(source, (err as Error).message);
  }
}
