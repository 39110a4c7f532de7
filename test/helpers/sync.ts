import { BatchReadContext } from '../../src/codec/index.ts';
import type { NodeId } from '../../src/identity/node-id.ts';
import { SESSION_INTERN_CAPACITY } from '../../src/sync/constants.ts';
import type { FrameDuplex } from '../../src/sync/duplex.ts';
import { decodeMessage, encodeMessage, type Hello, type Message } from '../../src/sync/messages.ts';

/** Helpers for sync tests: waiting for in-memory pipes to go quiet, and hand-driven timers. */

/** Waits until no microtask or immediate work is left (pipes deliver on microtasks). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A Scheduler whose time moves only when the test calls `advance`. */
export function manualScheduler() {
  const timers: { at: number; fn: () => void }[] = [];
  let now = 0;
  return {
    after(ms: number, fn: () => void) {
      const t = { at: now + ms, fn };
      timers.push(t);
      return () => {
        const at = timers.indexOf(t);
        if (at >= 0) timers.splice(at, 1);
      };
    },
    advance(ms: number) {
      now += ms;
      // Due timers fire in time order (then in the order they were set), as real ones do,
      // including those that firing ones set for a time already reached (after(0) and the like).
      for (;;) {
        const due = timers.filter((x) => x.at <= now).sort((x, y) => x.at - y.at)[0];
        if (!due) return;
        timers.splice(timers.indexOf(due), 1);
        due.fn();
      }
    },
  };
}

/** A HELLO frame as a peer would send it: protocol 1.0, database 'shared', role peer, empty vector. */
export function helloFrame(fields: Partial<Omit<Hello, 'type'>> & { nodeId: NodeId }): Uint8Array {
  return encodeMessage({
    type: 'hello',
    major: 1,
    minor: 0,
    dbId: 'shared',
    role: 'peer',
    version: new Map(),
    credentials: new Uint8Array(0),
    ...fields,
  });
}

/** Calls `seen` with every message sent through `duplex` (decoded as its peer reads them), before it goes. */
export function watchSent(duplex: FrameDuplex, seen: (message: Message) => void): void {
  const reader = new BatchReadContext(SESSION_INTERN_CAPACITY);
  const send = duplex.send.bind(duplex);
  duplex.send = (frame) => {
    seen(decodeMessage(frame, 1 << 22, reader));
    return send(frame);
  };
}
