/**
 * What the comparison asks of each library: one replica in one process, driven through the
 * library's own API and synced with one peer the way its docs recommend for live sync.
 */
import type { BugRecord, Edit, Snapshot } from '../data.ts';

/** Where a replica accepts its peer: a loopback TCP port and what else the library needs. */
export interface Contact {
  port: number;
  info: string;
}

/** How much history a replica keeps, in the library's own unit. */
export interface History {
  value: number;
  unit: string;
}

export interface Contender {
  readonly name: string;
  /** The library's package and version, for the report. */
  readonly package: string;
  /** `role` a: the replica that writes first and is served; b: the one that joins it. */
  open(dir: string, role: 'a' | 'b'): Promise<void>;
  /** Accepts the peer (replica a). */
  serve(): Promise<Contact>;
  /** Starts syncing with the replica at `contact` (replica b). */
  join(contact: Contact): Promise<void>;
  /** Stops syncing (replica b goes offline). */
  leave(): Promise<void>;
  /** Bulk insert, the library's batch API where it has one. */
  insert(records: readonly { id: string; record: BugRecord }[]): Promise<void>;
  /** One W2 update of `priority`, its own change/transaction. */
  update(id: string, priority: number): Promise<void>;
  /** One W3 edit, its own change/transaction. */
  edit(edit: Edit): Promise<void>;
  /** Writes `value` to this side's marker record, after all the writes it follows. */
  setMarker(side: 'a' | 'b', value: number): Promise<void>;
  markerValue(side: 'a' | 'b'): Promise<number | undefined>;
  snapshot(): Promise<Snapshot>;
  history(): Promise<History>;
  close(): Promise<void>;
}

/**
 * A W3 edit on a plain document, for the libraries that store whole documents (PouchDB,
 * OrbitDB): no set type (tags an array) and no counter (viewCount read and written back).
 */
export function editDocument(doc: Record<string, unknown>, e: Edit): void {
  if (e.kind === 'view') doc.viewCount = Number(doc.viewCount) + 1;
  else if (e.kind === 'tag') doc.tags = [...new Set([...(doc.tags as string[]), e.value])];
  else doc[e.kind] = e.value;
}

export function markerId(side: 'a' | 'b'): string {
  return side === 'a' ? 'fffffffffffffffa' : 'fffffffffffffffb';
}
