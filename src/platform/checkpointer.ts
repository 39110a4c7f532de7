/**
 * WAL checkpoints on a worker thread. SQLite's automatic checkpoint runs inside the commit
 * that crosses the threshold, stalling that write (40 ms for a 10,000-page WAL here). With
 * this, the store's own connection never checkpoints; a second connection on a worker thread
 * runs passive checkpoints, which never wait for and never block writers.
 */
import { Worker } from 'node:worker_threads';

/** How often the worker checkpoints. */
const DEFAULT_INTERVAL_MS = 200;
/** WAL frames (4 KiB pages) past which the worker makes the WAL start over: 64 MiB. */
const RESTART_FRAMES = 16_384;

/** Starts checkpointing the SQLite file at `path`; returns a function that stops it. */
export function startCheckpointer(path: string, intervalMs = DEFAULT_INTERVAL_MS): () => void {
  // Running from source (.ts) or from the build (.js): the worker file sits beside this one.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const worker = new Worker(new URL(`./checkpoint-worker${extension}`, import.meta.url), {
    workerData: { path, intervalMs, restartFrames: RESTART_FRAMES },
  });
  worker.unref(); // never keeps the process alive
  worker.on('error', () => {}); // a failed checkpoint thread only means the WAL grows until close
  return () => {
    void worker.terminate();
  };
}
