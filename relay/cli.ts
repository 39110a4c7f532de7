#!/usr/bin/env node
/**
 * `blaze-node`: the always-on relay.
 *   blaze-node init  --data DIR [--token-key-from DIR]
 *   blaze-node start [--data DIR] [--config FILE] [--listen MULTIADDR ...] [--http HOST:PORT] ...
 *   blaze-node token --data DIR --sub USER --db-id DBID [--peer PEER_ID | --query] [--claims JSON] [--ttl 30d]
 *   blaze-node rules --rules FILE --sub USER [--claims JSON]
 * Exit 0 on success, 1 on an error, 2 on bad usage, with a one-line message on stderr.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { peerIdFromString } from '@libp2p/peer-id';
import { BlazeError } from '../src/errors.ts';
import { DEFAULT_CONFIG, loadConfig, type RelayConfig, START_FLAGS, settingsHelp } from './config.ts';
import { initDataDir, loadDataDir, type RelayKeys } from './data-dir.ts';
import { issueDeviceToken, parseDuration } from './token-issuer.ts';

const HELP = `blaze-node: the always-on BlazeDB relay

usage:
  blaze-node init  --data DIR [--token-key-from DIR]    create the relay's identity and token key
  blaze-node start [--data DIR] [--config FILE] [settings]  run the relay (initializes DIR if new)
  blaze-node token --data DIR --sub USER --db-id DBID [--peer PEER_ID | --query] [--claims JSON] [--ttl 30d]
                                                         print a device token (--query: a token for
                                                         POST /query instead, bound to no peer)
  blaze-node rules --rules FILE --sub USER [--claims JSON]
                                                         check a rules file; print the sync filter
                                                         within which such a token may read

settings (flag, environment variable, default; a --config FILE is JSON with the same names as
docs/relay.md lists; flags beat the environment, which beats the file):
${settingsHelp()}`;

class UsageError extends Error {}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  'token-key-from': { type: 'string' },
  sub: { type: 'string' },
  'db-id': { type: 'string' },
  peer: { type: 'string' },
  claims: { type: 'string' },
  query: { type: 'boolean' },
  ttl: { type: 'string' },
  ...Object.fromEntries(
    Object.keys(START_FLAGS).map((flag) => [
      flag,
      { type: 'string', ...(flag === 'listen' || flag === 'relays' ? { multiple: true } : {}) },
    ]),
  ),
} as const;

async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS }));
  } catch (err) {
    return usage((err as Error).message);
  }
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${HELP}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (rest.length > 0) return usage(`unexpected argument '${rest[0]}'`);
  try {
    if (command === 'init') return await init(values);
    if (command === 'token') return await token(values);
    if (command === 'start') return await start(values);
    if (command === 'rules') return rules(values);
    return usage(`unknown command '${command}' (init, start, token, rules)`);
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message);
    return fail(err);
  }
}

async function init(values: Record<string, unknown>): Promise<number> {
  allowOnly(values, ['data', 'token-key-from']);
  const dir = stringOption(values, 'data') ?? DEFAULT_CONFIG.data;
  const from = stringOption(values, 'token-key-from');
  const keys = await initDataDir(dir, from !== undefined ? { tokenKeyFrom: from } : {});
  process.stdout.write(
    `${[
      `initialized ${dir}`,
      `peer id: ${keys.peerId}`,
      `peers reach it at (with this machine's address): /ip4/<address>/tcp/4001/p2p/${keys.peerId}`,
      `token issuer: ${keys.tokenKey.issuer}`,
      `issue a device token: blaze-node token --data ${dir} --sub USER --db-id DBID [--peer PEER_ID]`,
      `run it: blaze-node start --data ${dir}`,
    ].join('\n')}\n`,
  );
  return 0;
}

async function token(values: Record<string, unknown>): Promise<number> {
  allowOnly(values, ['data', 'sub', 'db-id', 'peer', 'claims', 'ttl', 'query']);
  const dir = stringOption(values, 'data') ?? DEFAULT_CONFIG.data;
  const sub = stringOption(values, 'sub');
  const dbId = stringOption(values, 'db-id');
  if (sub === undefined || dbId === undefined) throw new UsageError('token needs --sub USER and --db-id DBID');
  const claims = claimsOption(values);
  const peer = stringOption(values, 'peer');
  if (peer !== undefined && values.query === true) throw new UsageError('a --query token is bound to no --peer');
  const keys = await loadDataDir(dir);
  const jwt = await issueDeviceToken(keys.tokenKey, {
    sub,
    dbId,
    ...(peer !== undefined ? { peer: checkPeerId(peer) } : {}),
    ...(claims !== undefined ? { claims } : {}),
    ...(values.query === true ? { query: true } : {}),
    ttlSeconds: parseDuration('--ttl', stringOption(values, 'ttl') ?? '30d'),
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  process.stdout.write(`${jwt}\n`);
  return 0;
}

/** Checks a rules file and prints the filter a token with these claims may sync with. */
function rules(values: Record<string, unknown>): number {
  allowOnly(values, ['rules', 'sub', 'claims']);
  const file = stringOption(values, 'rules');
  const sub = stringOption(values, 'sub');
  if (file === undefined || sub === undefined) throw new UsageError('rules needs --rules FILE and --sub USER');
  const read = loadConfig({ rules: file }, {}).rules;
  const allowed = read?.allowedFilter({ ...claimsOption(values), sub });
  process.stdout.write(allowed ? `${JSON.stringify(allowed.spec)}\n` : 'nothing: these claims may read no collection\n');
  return 0;
}

async function start(values: Record<string, unknown>): Promise<number> {
  allowOnly(values, ['config', ...Object.keys(START_FLAGS)]);
  const flags: Partial<Record<keyof RelayConfig, string>> = {};
  for (const [flag, key] of Object.entries(START_FLAGS)) {
    const value = values[flag];
    if (value !== undefined) flags[key] = Array.isArray(value) ? value.join(',') : String(value);
  }
  const config = loadConfig(flags, process.env, stringOption(values, 'config'));
  // Loaded only to run the relay: init and token start fast without libp2p.
  const [{ RelayHub }, { httpAddress, startHttp }, { createLogger }] = await Promise.all([
    import('./hub.ts'),
    import('./http.ts'),
    import('./log.ts'),
  ]);
  const log = createLogger(config.logLevel);
  let keys: RelayKeys;
  if (existsSync(join(config.data, 'identity.key'))) keys = await loadDataDir(config.data);
  else {
    keys = await initDataDir(config.data);
    log.info({ data: config.data, peerId: keys.peerId }, 'initialized a new data directory');
  }
  const hub = await RelayHub.start(config, keys, log);
  const http = config.http ? await startHttp(hub, config.http, log) : undefined;
  log.info({ peerId: hub.peerId, addresses: hub.addresses, http: http ? httpAddress(http) : null }, 'relay started');
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      http?.close();
      hub.stop().then(resolve, (err: Error) => {
        log.error({ err }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await stopped;
  return 0;
}

function claimsOption(values: Record<string, unknown>): Record<string, unknown> | undefined {
  const text = stringOption(values, 'claims');
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--claims is not JSON: ${(err as Error).message}`);
  }
}

function stringOption(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`--${name} needs a value`);
  return value;
}

function allowOnly(values: Record<string, unknown>, allowed: string[]): void {
  for (const [name, value] of Object.entries(values))
    if (value !== undefined && name !== 'help' && !allowed.includes(name)) throw new UsageError(`--${name} does not apply here`);
}

function checkPeerId(text: string): string {
  try {
    return peerIdFromString(text).toString();
  } catch {
    throw new UsageError(`--peer is not a libp2p peer id: ${text}`);
  }
}

function usage(message: string): number {
  process.stderr.write(`blaze-node: ${message}\n`);
  return 2;
}

function fail(err: unknown): number {
  const known = err instanceof BlazeError;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`blaze-node: ${known ? `${(err as Error).name}: ` : ''}${message.split('\n')[0]}\n`);
  return 1;
}

const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`blaze-node: needs Node.js >= 22 (found ${process.version})\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv.slice(2));
