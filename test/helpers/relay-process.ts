/** `blaze-node` in its own process for tests: run a command, or start the relay and read its JSON logs. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

const CLI = new URL('../../relay/cli.ts', import.meta.url).pathname;

/** Runs `blaze-node ARGS` to the end. */
export function blazeNode(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A free TCP port on loopback (so a restarted relay can listen where peers look for it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class RelayProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line));
      } catch {
        this.logs.push({ msg: line });
      }
    });
  }

  /** Starts `blaze-node start ARGS` (Node run with `nodeFlags`) and waits for its 'relay started' line. */
  static async start(args: string[], nodeFlags: string[] = []): Promise<{ relay: RelayProcess; started: Record<string, unknown> }> {
    const relay = new RelayProcess(
      spawn(process.execPath, [...nodeFlags, CLI, 'start', ...args], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    try {
      const started = await relay.waitForLog((l) => l.msg === 'relay started', 20_000);
      return { relay, started };
    } catch (err) {
      relay.child.kill('SIGKILL');
      throw err;
    }
  }

  async waitForLog(match: (line: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (this.child.exitCode !== null)
        throw new Error(`blaze-node exited (${this.child.exitCode}); logs: ${JSON.stringify(this.logs.slice(-5))}`);
      if (Date.now() > deadline) throw new Error(`timed out; logs: ${JSON.stringify(this.logs.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal);
    return this.exited;
  }
}
