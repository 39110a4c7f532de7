/**
 * Token bindings: a token issued without `--peer` is bound to the first libp2p peer id that
 * presents it, durably, so a copy of it is useless from any other key. Kept in the relay's own
 * small SQLite file beside the stores.
 */

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export class TokenBindings {
  readonly #db: DatabaseSync;
  readonly #bind;
  readonly #lookup;

  constructor(dir: string) {
    this.#db = new DatabaseSync(join(dir, 'relay.sqlite'));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS token_bindings (token_id TEXT PRIMARY KEY, peer TEXT NOT NULL, bound_at INTEGER NOT NULL) STRICT',
    );
    this.#bind = this.#db.prepare('INSERT OR IGNORE INTO token_bindings (token_id, peer, bound_at) VALUES (?, ?, ?)');
    this.#lookup = this.#db.prepare('SELECT peer FROM token_bindings WHERE token_id = ?');
  }

  /**
   * Binds `tokenId` to `peer` unless it is bound already; returns the peer it is bound to.
   * Durable before it returns (synchronous = FULL), so a restart cannot re-open the choice.
   */
  bind(tokenId: string, peer: string, nowMs: number): string {
    this.#bind.run(tokenId, peer, nowMs);
    const row = this.#lookup.get(tokenId) as { peer: string } | undefined;
    return row?.peer ?? peer;
  }

  close(): void {
    this.#db.close();
  }
}
