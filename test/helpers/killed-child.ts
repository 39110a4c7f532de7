/** Crash tests: run a child script that prints lines, let the test decide when to SIGKILL it. */
import { spawn } from 'node:child_process';

/**
 * Runs `script` with `args`; `onLine` sees each whole line it prints (a line cut by the kill is
 * not seen) and may call `kill(afterMs)`. Resolves once the child died of SIGKILL; rejects if it
 * exited on its own.
 */
export function runUntilKilled(
  script: string,
  args: string[],
  onLine: (line: string, kill: (afterMs: number) => void) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (afterMs: number) => setTimeout(() => child.kill('SIGKILL'), afterMs);
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) onLine(line, kill);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`${script} exited on its own (code ${code}): ${stderr}`));
    });
  });
}
