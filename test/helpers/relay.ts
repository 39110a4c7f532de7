/** An in-process blaze-node relay hub on loopback for tests, with its data in a temporary directory. */
import { DEFAULT_CONFIG, type RelayConfig } from '../../relay/config.ts';
import { initDataDir, type RelayKeys } from '../../relay/data-dir.ts';
import { RelayHub } from '../../relay/hub.ts';
import { createLogger } from '../../relay/log.ts';
import { issueDeviceToken } from '../../relay/token-issuer.ts';
import { tempDir } from './db.ts';

export async function startHub(overrides: Partial<RelayConfig> = {}, dir = tempDir('blaze-relay-')) {
  const keys = await initDataDir(dir.path);
  const config: RelayConfig = {
    ...DEFAULT_CONFIG,
    data: dir.path,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    http: null,
    logLevel: 'silent',
    ...overrides,
  };
  const hub = await RelayHub.start(config, keys, createLogger('silent'));
  return {
    hub,
    keys,
    dir: dir.path,
    address: hub.addresses[0] as string,
    /** A device token for `dbId` (bound to `peer` when given). */
    token: (sub: string, dbId: string, peer?: string, ttlSeconds = 3600) => issue(keys, sub, dbId, peer, ttlSeconds),
    async [Symbol.asyncDispose]() {
      await hub.stop();
      dir.cleanup();
    },
  };
}

export function issue(keys: RelayKeys, sub: string, dbId: string, peer?: string, ttlSeconds = 3600): Promise<string> {
  return issueDeviceToken(keys.tokenKey, {
    sub,
    dbId,
    ...(peer !== undefined ? { peer } : {}),
    ttlSeconds,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
}

export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
