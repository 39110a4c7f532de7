/** Sync protocol constants; each number says why it is what it is. */

/** The libp2p protocol id; the number is the major version. */
export const PROTOCOL_ID = '/blazedb/sync/1';
export const PROTOCOL_MAJOR = 1;
/**
 * 1: ACKs may be deltas and list duplicates (sent only to peers that say minor >= 1).
 * 2: GC announcements and snapshots (only with peers that say minor >= 2).
 * 3: VOID, a relay's verdicts on rejected writes (sent only to peers that say minor >= 3).
 * 4: AUTHOR, SIGNED and signatures in OPS and RECORD: other devices' writes forwarded signed by their authors.
 * 5: standalone OPS batches (position 0), encoded once for many sessions (sent only to peers that say minor >= 5).
 */
export const PROTOCOL_MINOR = 5;

/** Largest frame a session accepts (and sends): bounds the memory one frame can claim. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** A peer that connects but says nothing is dropped after this (it holds a socket otherwise). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Periodic ACK when the vector moved: often enough for GC and `synced`, rare enough to be free. */
export const DEFAULT_ACK_INTERVAL_MS = 5000;
/** How long skipped dots for a partial peer may wait to be merged into one SKIP (see SyncSessionInit). */
export const DEFAULT_SKIP_DELAY_MS = 250;
/** Ops per OPS frame at most: about 25 KB for W2-like updates, a fraction of the frame limit. */
export const DEFAULT_BATCH_OPS = 1000;
/** Compress a frame body only above this size: smaller ones rarely shrink enough to pay. */
export const LZ4_MIN_BYTES = 256;
/**
 * Interning tables of a session's OPS stream, per direction: ids beyond these are still sent,
 * in full. 65,536 record ids cost the receiver a few MB at most.
 */
export const SESSION_INTERN_CAPACITY = { nodes: 4096, names: 4096, records: 65_536 } as const;
/** Longest credentials blob a HELLO may carry (a JWT is a few hundred bytes). */
export const MAX_CREDENTIALS_BYTES = 16 * 1024;
/** Records named in one GONE/NEED/LEFT message at most (bounds what one frame can ask for). */
export const MAX_RECORD_REFS = 10_000;
/** Records a partial replica may list as held (bounds what one peer can make a server remember). */
export const MAX_HELD_RECORDS = 1_000_000;

/**
 * How long ops from one session wait before going on to a peer that may get them another way.
 * It must outlast that other path plus the peer's ACK: with four busy peers on two cores, 30 ms
 * left 27% of bytes duplicated and 100 ms 2% (bench mesh.duplicate_bytes_ratio).
 */
export const DEFAULT_FORWARD_DELAY_MS = 100;

/** Most origins one ACK may list as received twice. */
export const MAX_DUPLICATE_ORIGINS = 256;

/**
 * A relay with this many sessions of a database or more sends new ops to its full peers in
 * shared standalone frames (SyncSessionInit.shareFrames): encoding once instead of per peer took
 * its fan-out to 100 peers from ~3.5 s to ~1.5 s of CPU for 4,000 ops, at ~10 more bytes per
 * update op, which a handful of devices need not pay.
 */
export const SHARE_FRAMES_FROM_SESSIONS = 16;
