/**
 * Node ids: 8 bytes (16 lowercase hex chars) derived from the device's Ed25519 public key as
 * the first 8 bytes of its SHA-256. Unique without coordination (a collision among a
 * database's devices needs ~2^32 of them), short enough that every op can carry one.
 */
export type NodeId = string & { readonly __brand: 'NodeId' };

export const NODE_ID_BYTES = 8;

const NODE_ID_PATTERN = /^[0-9a-f]{16}$/;

export function isNodeId(s: unknown): s is NodeId {
  return typeof s === 'string' && NODE_ID_PATTERN.test(s);
}
