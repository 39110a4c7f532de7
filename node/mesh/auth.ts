/**
 * Who may sync with whom on the mesh. Checks on every session, from the peer's HELLO:
 * - Its node id must be the one the connection's Noise key names. A device's node id and its
 *   libp2p peer id come from one Ed25519 key, so nobody can speak for another device.
 * - Only the configured relays may say they are one: a relay's ACK makes writes relay-durable.
 * - With a device token issued by a relay (`blaze-node token`, a JWT): the device presents it;
 *   relays check it themselves, and LAN peers check each other's offline with the relay's
 *   public token key (fetched from the relay once, kept in the store; see tokens.ts). A relay
 *   is trusted by its key (the address the app configured names it), so it presents none.
 *   With read rules (signed by the relay, served with its key), a LAN peer's filter must lie
 *   within what its token's claims may read, as at the relay.
 * - With a shared secret instead (relay-less LANs): the credentials must be
 *   HMAC-SHA256(secret, database id and node id), proof of the secret bound to this device and
 *   database, so a captured HELLO is useless from another key.
 * - Without either, any device that knows the database id may sync (fine on a trusted LAN,
 *   documented as such).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { PeerId } from '@libp2p/interface';
import type { JWK } from 'jose';
import { nodeIdFromPublicKey } from '../../src/identity/identity.ts';
import { judgeRead, type Rules } from '../../src/rules/index.ts';
import type { Authorizer, Hello, Verdict } from '../../src/sync/index.ts';
import { looksLikeJwt, TokenError, verifyDeviceToken } from './tokens.ts';

/** How to check device tokens offline: what the relay's `/blazedb/relay-info/1` answers. */
export interface TokenTrust {
  readonly issuer: string;
  readonly tokenKey: JWK;
  /** The relay's read rules, as it signed them (verified), when it has any. */
  readonly rules?: { readonly signed: string; readonly rules: Rules };
}

/** The node id a libp2p peer id names (both come from the device's Ed25519 key). */
export function nodeIdOfPeer(peer: PeerId): string | undefined {
  const key = peer.publicKey;
  return key?.type === 'Ed25519' ? nodeIdFromPublicKey(key.raw) : undefined;
}

/** The credentials a device sends in its HELLO: its JWT, proof of the shared secret, or nothing. */
export function tokenCredentials(token: string | undefined, dbId: string, nodeId: string): Uint8Array {
  if (token === undefined) return new Uint8Array(0);
  if (looksLikeJwt(token)) return new TextEncoder().encode(token);
  return new Uint8Array(createHmac('sha256', token).update(`blazedb-mesh\0${dbId}\0${nodeId}`).digest());
}

export interface MeshAuthOptions {
  /** This device's token (a JWT) or shared secret. */
  token: string | undefined;
  /** Peer ids of the configured relays. */
  relays: ReadonlySet<string>;
  /** The relay's token key, once known (JWT mode). */
  trust: () => TokenTrust | undefined;
  /** Tokens that name no peer, bound to the first peer that presented one here (token id -> peer). */
  bindings: Map<string, string>;
}

/** Checks a HELLO that arrived on a connection from `remote` (see the module comment). */
export function meshAuthorizer(remote: PeerId, options: MeshAuthOptions): Authorizer {
  const peer = remote.toString();
  const isRelay = options.relays.has(peer);
  return (hello: Hello) => {
    if (nodeIdOfPeer(remote) !== hello.nodeId) return 'node id does not match the connection key';
    if (hello.role === 'relay' && !isRelay) return 'says it is a relay but is not a configured one';
    const token = options.token;
    if (token === undefined) return true;
    if (looksLikeJwt(token)) return isRelay ? true : checkLanToken(hello, peer, options);
    const expected = tokenCredentials(token, hello.dbId, hello.nodeId);
    const given = hello.credentials;
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad token';
    return true;
  };
}

/**
 * A LAN peer's token cannot be checked before this peer learned the relay's token key (its first
 * relay session): a refusal for now, not for good (the mesh peer dials again).
 */
export const NO_TRUST_YET = 'cannot check device tokens yet: this peer has not reached its relay once';

async function checkLanToken(hello: Hello, peer: string, options: MeshAuthOptions): Promise<Verdict> {
  const trust = options.trust();
  if (!trust) return NO_TRUST_YET;
  try {
    const claims = await verifyDeviceToken(hello.credentials, {
      publicKey: trust.tokenKey,
      issuer: trust.issuer,
      dbId: hello.dbId,
      peerId: peer,
    });
    if (claims.peer === undefined) {
      const bound = options.bindings.get(claims.tokenId) ?? peer;
      if (bound !== peer) return `token refused (peer): bound to peer ${bound}`;
      options.bindings.set(claims.tokenId, peer);
    }
    // The relay's read rules hold on the LAN too: a peer gets from this one only what it may read.
    const read = trust.rules ? judgeRead(trust.rules.rules, claims.payload, hello.filter) : true;
    return read === true ? true : { code: 'forbidden', message: read };
  } catch (err) {
    if (err instanceof TokenError) return err.message;
    throw err;
  }
}
