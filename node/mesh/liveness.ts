/**
 * Finds dead connections (a device that lost power leaves no FIN) by pinging each connection
 * about once per interval, spread evenly over it: a libp2p service in place of libp2p's own
 * connection monitor, which pings every connection in the same tick. On a relay of 500 peers
 * that tick opened 500 streams at once and stalled the relay's event loop for 0.4-0.8 s every
 * interval, the worst of its write-to-visible latency.
 */
import type { Connection, Startable } from '@libp2p/interface';

/** The ping protocol (libp2p's, so every peer already answers it). */
const PING_PROTOCOL = '/ipfs/ping/1.0.0';
const PING_BYTES = 32;
/** How often the pinger looks for connections that are due (a small share of them each time). */
const DEFAULT_TICK_MS = 250;

export interface LivenessInit {
  /** Each connection is pinged about this often. */
  intervalMs: number;
  /** A ping unanswered this long aborts its connection. */
  timeoutMs: number;
  tickMs?: number;
}

/** What the service takes from libp2p's components. */
interface LivenessComponents {
  connectionManager: { getConnections(): Connection[] };
}

export function livenessPinger(init: LivenessInit): (components: LivenessComponents) => LivenessPinger {
  return (components) => new LivenessPinger(components, init);
}

export class LivenessPinger implements Startable {
  readonly #connections: LivenessComponents['connectionManager'];
  readonly #init: LivenessInit;
  readonly #tickMs: number;
  /** When each connection was last pinged (or first seen). */
  readonly #lastPing = new WeakMap<Connection, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = new AbortController();

  constructor(components: LivenessComponents, init: LivenessInit) {
    this.#connections = components.connectionManager;
    this.#init = init;
    this.#tickMs = init.tickMs ?? DEFAULT_TICK_MS;
  }

  start(): void {
    this.#stopped = new AbortController();
    this.#timer = setInterval(() => void this.tick(Date.now()), this.#tickMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#stopped.abort();
  }

  /** Pings the connections most overdue, at most an even share of all per tick (run by the timer; tests call it). */
  tick(now: number): Promise<void> {
    const connections = this.#connections.getConnections();
    const share = Math.ceil((connections.length * this.#tickMs) / this.#init.intervalMs);
    const due: [Connection, number][] = [];
    for (const conn of connections) {
      const last = this.#lastPing.get(conn);
      if (last === undefined) this.#lastPing.set(conn, now);
      else if (now - last >= this.#init.intervalMs) due.push([conn, last]);
    }
    due.sort((a, b) => a[1] - b[1]);
    const pings = due.slice(0, share).map(([conn]) => {
      this.#lastPing.set(conn, now);
      return this.#ping(conn).catch((err: Error) => conn.abort(err));
    });
    return Promise.all(pings).then(() => {});
  }

  async #ping(conn: Connection): Promise<void> {
    const signal = AbortSignal.any([this.#stopped.signal, AbortSignal.timeout(this.#init.timeoutMs)]);
    let stream: Awaited<ReturnType<Connection['newStream']>> | undefined;
    // A timeout or stop aborts the stream, which ends the read below.
    const onAbort = () => stream?.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      stream = await conn.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true });
      stream.send(crypto.getRandomValues(new Uint8Array(PING_BYTES)));
      let received = 0;
      for await (const chunk of stream) {
        received += chunk.byteLength;
        if (received >= PING_BYTES) break;
      }
      if (received < PING_BYTES) throw signal.aborted ? signal.reason : new Error('the ping stream ended before the answer');
      await stream.close({ signal });
    } catch (err) {
      stream?.abort(err as Error);
      // Stopping, or a connection that closed meanwhile: nothing to abort.
      if (this.#stopped.signal.aborted || conn.status !== 'open') return;
      // A peer that refuses the protocol still answered: it is alive.
      if ((err as Error).name === 'UnsupportedProtocolError') return;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}
