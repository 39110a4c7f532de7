/**
 * Renders a page in a real headless Chromium and evaluates an expression in it, over the
 * DevTools protocol on loopback. In CI (CI=1) a missing browser is an error; elsewhere the
 * caller skips the check and says why.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The browser binary, or undefined when none is installed. */
export function findChromium(): string | undefined {
  for (const name of CANDIDATES) {
    const r = spawnSync('which', [name], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

/** Opens `url`, waits for the load, and returns the JSON value of `expression`. */
export async function evaluateInChromium(binary: string, url: string, expression: string, timeoutMs = 30_000): Promise<unknown> {
  const profile = mkdtempSync(join(tmpdir(), 'blaze-chromium-'));
  const child = spawn(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      url,
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const deadline = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const browserWs = await devtoolsUrl(child);
    const port = new URL(browserWs).port;
    const page = await pageTarget(port);
    return await evaluate(page, url, expression);
  } finally {
    clearTimeout(deadline);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

function devtoolsUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(text);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`chromium exited (${code}) before DevTools was up: ${text.slice(-500)}`)));
  });
}

async function pageTarget(port: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const page = list.find((t) => t.type === 'page');
    if (page) return page.webSocketDebuggerUrl;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no page target');
}

async function evaluate(wsUrl: string, url: string, expression: string): Promise<unknown> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const closed = new Promise<never>((_, reject) => ws.addEventListener('close', () => reject(new Error('the DevTools connection closed'))));
  closed.catch(() => {});
  const call = (method: string, params: unknown) =>
    Promise.race([
      closed,
      new Promise<{ result?: { result?: { value?: unknown } } }>((resolve) => {
        const mine = ++id;
        const onMessage = (event: MessageEvent) => {
          const message = JSON.parse(String(event.data));
          if (message.id !== mine) return;
          ws.removeEventListener('message', onMessage);
          resolve(message);
        };
        ws.addEventListener('message', onMessage);
        ws.send(JSON.stringify({ id: mine, method, params }));
      }),
    ]);
  try {
    for (let i = 0; i < 200; i++) {
      // The page starts as about:blank: wait for ours, loaded.
      const ready = await call('Runtime.evaluate', {
        expression: `location.href === ${JSON.stringify(url)} && document.readyState`,
        returnByValue: true,
      });
      if (ready.result?.result?.value === 'complete') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await call('Runtime.evaluate', { expression: `JSON.stringify(${expression})`, returnByValue: true });
    return JSON.parse(String(r.result?.result?.value));
  } finally {
    ws.close();
  }
}
