/**
 * The package's Node entry: everything in src/, plus the libp2p mesh peer registered as the
 * network `db.enableSync()` uses.
 *
 *   import { BlazeDB } from 'blazedb';
 *   const db = await BlazeDB.open({ path: './data' });
 *   const mesh = await db.enableSync({ relay: '/dns4/pi.local/tcp/4001/p2p/12D3Koo...', mdns: true });
 */
import { registerSyncNetwork } from '../src/db/index.ts';
import { type MeshOptions, MeshPeer } from './mesh/mesh-peer.ts';

export * from '../src/index.ts';
export { MeshDialError, type MeshOptions, MeshPeer, MeshRulesError } from './mesh/mesh-peer.ts';

registerSyncNetwork((db, options) => MeshPeer.start(db, options as MeshOptions));
