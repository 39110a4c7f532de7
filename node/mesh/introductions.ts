/**
 * Introductions: a relay tells a peer which of the database's other peers it can reach by
 * WebRTC through this relay (they hold a circuit reservation there), so two devices that cannot
 * reach each other directly find each other without the app passing addresses around. Protocol
 * `/blazedb/peers/1`: the relay answers a JSON array of peer ids (ask.ts); the asker dials
 * `<relay address>/p2p-circuit/webrtc/p2p/<peer id>`. The relay answers only peers it has an
 * authorized sync session with, and names only such peers.
 */
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { ask, serveAnswers } from './ask.ts';

export const INTRODUCTIONS_PROTOCOL = '/blazedb/peers/1';

/** Relay side. `introduce(asker)`: the peer ids to give it, or undefined to refuse. */
export async function serveIntroductions(libp2p: Libp2p, introduce: (asker: string) => string[] | undefined): Promise<void> {
  await serveAnswers(libp2p, INTRODUCTIONS_PROTOCOL, introduce);
}

/** Peer side: asks `relay` for introductions; resolves with the peer ids it gave. */
export async function askForIntroductions(libp2p: Libp2p, relay: Multiaddr | PeerId, timeoutMs: number): Promise<string[]> {
  const answer = await ask(libp2p, relay, INTRODUCTIONS_PROTOCOL, timeoutMs);
  if (!Array.isArray(answer) || !answer.every((a) => typeof a === 'string')) throw new Error('introductions are not a list of peer ids');
  return answer;
}
