/**
 * Introductions: a relay tells a peer which of the database's other peers it can reach by
 * WebRTC through this relay (they hold a circuit reservation there), so two devices that cannot
 * reach each other directly find each other without the app passing addresses around. Protocol
 * `/blazedb/peers/1`: the asker opens a stream, the relay answers with a JSON array of peer ids
 * and closes; the asker dials `<relay address>/p2p-circuit/webrtc/p2p/<peer id>`. The relay
 * answers only peers it has an authorized sync session with, and names only such peers.
 */
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

export const INTRODUCTIONS_PROTOCOL = '/blazedb/peers/1';
/** The question: one byte (version 1 of the request). */
const ASK = Uint8Array.of(1);
/** Longest answer accepted (a few thousand peer ids). */
const MAX_ANSWER_BYTES = 256 * 1024;

/** Relay side. `introduce(asker)`: the peer ids to give it, or undefined to refuse. */
export async function serveIntroductions(libp2p: Libp2p, introduce: (asker: string) => string[] | undefined): Promise<void> {
  await libp2p.handle(INTRODUCTIONS_PROTOCOL, (stream, connection) => {
    const addresses = introduce(connection.remotePeer.toString());
    if (!addresses) {
      stream.abort(new Error('no sync session with this peer'));
      return;
    }
    // Answer the question when it arrives: the asker is listening by then.
    stream.addEventListener(
      'message',
      () => {
        stream.send(new TextEncoder().encode(JSON.stringify(addresses)));
        stream.close().catch((err: Error) => stream.abort(err));
      },
      { once: true },
    );
  });
}

/** Peer side: asks `relay` for introductions; resolves with the peer ids it gave. */
export async function askForIntroductions(libp2p: Libp2p, relay: Multiaddr | PeerId, timeoutMs: number): Promise<string[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await libp2p.dialProtocol(relay, INTRODUCTIONS_PROTOCOL, { signal });
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    // The deadline covers the answer too, not only the dial.
    const onTimeout = () => {
      stream.abort(new Error('no introductions in time'));
      reject(new Error('no introductions in time'));
    };
    signal.addEventListener('abort', onTimeout, { once: true });
    stream.addEventListener('message', (event) => {
      const bytes = event.data.subarray();
      size += bytes.length;
      if (size > MAX_ANSWER_BYTES) {
        stream.abort(new Error('introductions too large'));
        reject(new Error(`introductions larger than ${MAX_ANSWER_BYTES} bytes`));
        return;
      }
      chunks.push(bytes);
    });
    stream.addEventListener('remoteCloseWrite', () => {
      signal.removeEventListener('abort', onTimeout);
      resolve(new TextDecoder().decode(Buffer.concat(chunks)));
      stream.close().catch(() => {});
    });
    stream.addEventListener('close', () => reject(new Error('the relay ended the stream without introductions')));
    // Protocol selection may wait for the dialer's first bytes: ask with one.
    stream.send(ASK);
  });
  const answer: unknown = JSON.parse(text);
  if (!Array.isArray(answer) || !answer.every((a) => typeof a === 'string')) throw new Error('introductions are not a list of peer ids');
  return answer;
}
