/**
 * Who may sync with whom on the mesh, until the relay's JWTs (issue "blaze-node") take over.
 *
 * Two checks, both on every session:
 * - The HELLO's node id must be the one the connection's Noise key names. A device's node id
 *   and its libp2p peer id come from one Ed25519 key, so nobody can speak for another device.
 * - With a shared `token` (the secret every device of the database is given), the HELLO's
 *   credentials must be HMAC-SHA256(token, database id and node id): proof of the secret that
 *   is bound to this device and database, so a captured HELLO is useless from another key.
 *   Without a token, any device that knows the database id may sync (fine on a trusted LAN,
 *   documented as such).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PeerId } from '@libp2p/interface';
import { nodeIdFromPublicKey } from '../../src/identity/identity.ts';
import type { Authorizer, Hello } from '../../src/sync/index.ts';

/** The node id a libp2p peer id names (both come from the device's Ed25519 key). */
function nodeIdOfPeer(peer: PeerId): string | undefined {
  const key = peer.publicKey;
  return key?.type === 'Ed25519' ? nodeIdFromPublicKey(key.raw) : undefined;
}

/** The credentials a device sends in its HELLO: empty without a token. */
export function tokenCredentials(token: string | undefined, dbId: string, nodeId: string): Uint8Array {
  if (token === undefined) return new Uint8Array(0);
  return new Uint8Array(createHmac('sha256', token).update(`blazedb-mesh\0${dbId}\0${nodeId}`).digest());
}

/**
 * Checks a HELLO that arrived on a connection from `remote` (see the module comment). Only the
 * configured `relays` may say they are one: a relay's ACK makes writes relay-durable.
 */
export function meshAuthorizer(remote: PeerId, token: string | undefined, relays: ReadonlySet<string>): Authorizer {
  return (hello: Hello) => {
    if (nodeIdOfPeer(remote) !== hello.nodeId) return 'node id does not match the connection key';
    if (hello.role === 'relay' && !relays.has(remote.toString())) return 'says it is a relay but is not a configured one';
    if (token === undefined) return true;
    const expected = tokenCredentials(token, hello.dbId, hello.nodeId);
    const given = hello.credentials;
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad token';
    return true;
  };
}
