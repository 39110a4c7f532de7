/**
 * Worker thread of checkpointer.ts. Passive checkpoints every interval never wait for writers;
 * but the WAL only starts over once a checkpoint has caught up completely while no write is
 * running, which a busy writer may never allow. So once the WAL passes `restartFrames`, a
 * RESTART checkpoint waits for the current write to finish and holds the next one back only for
 * the few frames the passive rounds left, after which the WAL is reused from the start.
 */
import { DatabaseSync } from 'node:sqlite';
import { workerData } from 'node:worker_threads';

const { path, intervalMs, restartFrames } = workerData as { path: string; intervalMs: number; restartFrames: number };
const db = new DatabaseSync(path);
db.exec('PRAGMA busy_timeout = 2000');
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
setInterval(() => {
  try {
    const result = passive.get() as { log: number } | undefined;
    if ((result?.log ?? 0) > restartFrames) restart.get();
  } catch {
    // Busy or closing: the next round tries again.
  }
}, intervalMs);
