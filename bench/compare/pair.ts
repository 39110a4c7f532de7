/**
 * A running replica process of the comparison, called by method name (side.ts), and the two
 * replicas of one measurement with the byte-counting proxy between them.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contact } from './libs/contender.ts';
import type { LibraryName } from './libs/index.ts';
import { type ByteProxy, startProxy } from './proxy.ts';

const SIDE = new URL('./side.ts', import.meta.url).pathname;

export class Side {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  readonly dir: string;

  private constructor(child: ChildProcess, dir: string) {
    this.#child = child;
    this.dir = dir;
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
    child.on('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`replica process exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  static async start(): Promise<Side> {
    const dir = mkdtempSync(join(tmpdir(), 'blaze-compare-'));
    // COMPARE_CPU_PROF=DIR: a CPU profile of every replica process, to see what limits a figure.
    const profile = process.env.COMPARE_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.COMPARE_CPU_PROF}`] : [];
    const child = fork(SIDE, [], {
      execArgv: ['--expose-gc', '--max-old-space-size=8192', ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`replica process exited (${code}) before it was ready`)));
    });
    return new Side(child, dir);
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, method, args });
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      await Promise.race([this.call('close').catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
      const kill = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Replica a (serving) and b, both open; b joins through the proxy when told to. */
export interface Pair {
  a: Side;
  b: Side;
  proxy: ByteProxy;
  contact: Contact;
  join(): Promise<void>;
  close(): Promise<void>;
}

export async function openPair(library: LibraryName): Promise<Pair> {
  const a = await Side.start();
  const b = await Side.start();
  try {
    await a.call('open', library, a.dir, 'a');
    await b.call('open', library, b.dir, 'b');
  } catch (err) {
    await Promise.all([a.stop(), b.stop()]);
    throw err;
  }
  let proxy: ByteProxy | undefined;
  let contact: Contact | undefined;
  const pair: Pair = {
    a,
    b,
    get proxy() {
      if (!proxy) throw new Error('not served');
      return proxy;
    },
    get contact() {
      if (!contact) throw new Error('not served');
      return contact;
    },
    async join() {
      if (!contact) {
        const served = await a.call<Contact>('serve');
        proxy = await startProxy(served.port);
        contact = { port: proxy.port, info: served.info };
      }
      await b.call('join', contact);
    },
    async close() {
      await Promise.all([a.stop(), b.stop()]);
      await proxy?.close();
    },
  };
  return pair;
}
