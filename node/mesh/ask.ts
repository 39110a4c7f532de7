/**
 * A small question-and-answer protocol over one libp2p stream: the asker sends one byte, the
 * server answers with one JSON value and closes. Introductions (`/blazedb/peers/1`) and the
 * relay's token key (`/blazedb/relay-info/1`) use it.
 */
import type { Libp2p, PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';

/** The question: one byte (version 1 of the request). */
const ASK = Uint8Array.of(1);
/** Longest answer accepted. */
const MAX_ANSWER_BYTES = 256 * 1024;

/** Server side. `answer(asker)`: the value to send, or undefined to refuse (the stream is reset). */
export async function serveAnswers(libp2p: Libp2p, protocol: string, answer: (asker: string) => unknown): Promise<void> {
  await libp2p.handle(protocol, (stream, connection) => {
    const value = answer(connection.remotePeer.toString());
    if (value === undefined) {
      stream.abort(new Error('refused'));
      return;
    }
    // Answer the question when it arrives: the asker is listening by then.
    stream.addEventListener(
      'message',
      () => {
        stream.send(new TextEncoder().encode(JSON.stringify(value)));
        stream.close().catch((err: Error) => stream.abort(err));
      },
      { once: true },
    );
  });
}

/** Asker side: resolves with the parsed JSON answer; rejects on refusal, oversize or timeout. */
export async function ask(libp2p: Libp2p, target: Multiaddr | PeerId, protocol: string, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await libp2p.dialProtocol(target, protocol, { signal });
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    // The deadline covers the answer too, not only the dial.
    const onTimeout = () => {
      stream.abort(new Error(`no answer on ${protocol} in time`));
      reject(new Error(`no answer on ${protocol} in time`));
    };
    signal.addEventListener('abort', onTimeout, { once: true });
    stream.addEventListener('message', (event) => {
      const bytes = event.data.subarray();
      size += bytes.length;
      if (size > MAX_ANSWER_BYTES) {
        stream.abort(new Error('answer too large'));
        reject(new Error(`answer on ${protocol} larger than ${MAX_ANSWER_BYTES} bytes`));
        return;
      }
      chunks.push(bytes);
    });
    stream.addEventListener('remoteCloseWrite', () => {
      signal.removeEventListener('abort', onTimeout);
      resolve(new TextDecoder().decode(Buffer.concat(chunks)));
      stream.close().catch(() => {});
    });
    stream.addEventListener('close', () => reject(new Error(`the stream ended without an answer on ${protocol}`)));
    // Protocol selection may wait for the dialer's first bytes: ask with one.
    stream.send(ASK);
  });
  return JSON.parse(text);
}
