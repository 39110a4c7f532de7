/**
 * How stored payloads are sealed: plaintext by default, AES-256-GCM when encryption at rest is
 * on (src/crypto/). `aad` binds a payload to its place (table, key and version), so a payload
 * moved to another row, or an older one put back, fails to open.
 */
export interface PayloadCipher {
  readonly encrypted: boolean;
  seal(aad: string, plain: Uint8Array): Uint8Array;
  open(aad: string, sealed: Uint8Array): Uint8Array;
  /** Persists what the cipher must keep (its use count), inside a write transaction. */
  flush?(): void;
  /**
   * Rereads what the cipher keeps in the store (current key, use count): at the start of each
   * write transaction (another process may have rotated the key), and after a rollback with
   * `afterRollback` (then also forgetting keys made in memory that were never stored).
   */
  reload?(afterRollback?: boolean): void;
}

export const plaintext: PayloadCipher = {
  encrypted: false,
  seal: (_aad, plain) => plain,
  open: (_aad, sealed) => sealed,
};
