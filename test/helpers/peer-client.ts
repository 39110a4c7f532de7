/** The test side of peer-process.ts: start it (anywhere), send it commands, wait for events. */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

const PEER_PROCESS = new URL('./peer-process.ts', import.meta.url).pathname;

export type PeerEvent = { event: string; [key: string]: unknown };

export class PeerClient {
  readonly events: PeerEvent[] = [];
  readonly #child: ChildProcess;
  readonly #replies = new Map<number, { resolve: (result: unknown) => void; reject: (err: Error) => void }>();
  readonly #waiters = new Set<() => void>();
  #nextId = 1;
  peerId = '';
  addresses: string[] = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    // A command sent to a process that died never gets its reply: fail it instead of hanging.
    child.once('exit', (code) => {
      for (const { reject } of this.#replies.values()) reject(new Error(`peer process exited (${code})`));
      this.#replies.clear();
    });
    createInterface({ input: child.stdout as Readable }).on('line', (line) => {
      const message = JSON.parse(line);
      if ('reply' in message) {
        const waiting = this.#replies.get(message.reply);
        if ('error' in message) waiting?.reject(new Error(`the peer process's command failed: ${message.error}`));
        else waiting?.resolve(message.result);
        this.#replies.delete(message.reply);
      } else this.events.push(message);
      for (const wake of this.#waiters) wake();
    });
  }

  /** `launch(argv)` runs a command line (e.g. inside a namespace); the peer-process file and config are appended. */
  static async start(
    launch: (argv: string[]) => ChildProcess,
    config: { dbId: string; mesh: Record<string, unknown>; path?: string } | Record<string, unknown>,
    /** Another script speaking the same JSON lines (bench/relay-load.ts), and how long it may take to be ready. */
    script: { path: string; readyMs: number } = { path: PEER_PROCESS, readyMs: 20_000 },
  ): Promise<PeerClient> {
    const client = new PeerClient(launch([process.execPath, script.path, JSON.stringify(config)]));
    let ready: PeerEvent;
    try {
      ready = await client.waitFor((e) => e.event === 'ready', script.readyMs);
    } catch (err) {
      client.#child.kill('SIGKILL');
      throw err;
    }
    client.peerId = (ready.peerId as string | undefined) ?? '';
    client.addresses = (ready.addresses as string[] | undefined) ?? [];
    return client;
  }

  /** Resolves with the first event (past or future) that `match` accepts. */
  async waitFor(match: (event: PeerEvent) => boolean, ms = 20_000): Promise<PeerEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (this.#child.exitCode !== null) throw new Error(`peer process exited (${this.#child.exitCode})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; events so far: ${JSON.stringify(this.events.slice(-10))}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 200));
        this.#waiters.add(wake);
      });
    }
  }

  call(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    if (this.#child.exitCode !== null) return Promise.reject(new Error(`peer process exited (${this.#child.exitCode})`));
    return new Promise((resolve, reject) => {
      this.#replies.set(id, { resolve, reject });
      this.#child.stdin?.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  /** Polls `get` until the record is there (or throws after `ms`). */
  async waitForRecord(collection: string, recordId: string, ms = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const doc = await this.call('get', { collection, recordId });
      if (doc) return doc as Record<string, unknown>;
      if (Date.now() > deadline) throw new Error(`record ${collection}/${recordId} did not arrive within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin?.end();
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(kill);
  }
}
