/**
 * Declared indexes: which field paths of which collection are indexed (kept in the store's
 * meta), and their entries' upkeep. Index entries live in storage, keyed by the index name, an
 * order-preserving key and the record id; all changes happen inside the caller's transaction.
 */
import { decodeValue, encodeValue } from '../codec/index.ts';
import { indexKeysOf, isMissing, valueAt } from '../query/index.ts';
import type { Storage } from '../storage/index.ts';
import type { ValueMap } from '../values/value.ts';

const META_INDEXES = 'indexes';

export function indexName(collection: string, path: string): string {
  return `${collection}\0${path}`;
}

function keysAt(doc: ValueMap | undefined, path: readonly string[]): Uint8Array[] {
  if (!doc) return [];
  const v = valueAt(doc, path);
  return isMissing(v) ? [] : indexKeysOf(v);
}

export class IndexCatalog {
  readonly #storage: Storage;
  /** collection -> indexed dotted paths */
  #paths = new Map<string, Set<string>>();

  constructor(storage: Storage) {
    this.#storage = storage;
    this.reload();
  }

  /** Rereads the list from the store (after a rollback, or another process's change). */
  reload(): void {
    const out = new Map<string, Set<string>>();
    const bytes = this.#storage.getMeta(META_INDEXES);
    if (bytes) {
      for (const [collection, path] of decodeValue(bytes) as [string, string][]) {
        out.set(collection, (out.get(collection) ?? new Set()).add(path));
      }
    }
    this.#paths = out;
  }

  has(collection: string): boolean {
    return this.#paths.has(collection);
  }

  paths(collection: string): ReadonlySet<string> {
    return this.#paths.get(collection) ?? new Set();
  }

  /** Declares an index and fills it from `docs`; false if it already exists. */
  add(collection: string, path: string, docs: Iterable<{ id: string; doc: ValueMap }>): boolean {
    if (this.paths(collection).has(path)) return false;
    const name = indexName(collection, path);
    const parts = path.split('.');
    for (const { id, doc } of docs) for (const key of keysAt(doc, parts)) this.#storage.addIndexEntry(name, key, id);
    this.#paths.set(collection, new Set(this.paths(collection)).add(path));
    this.#save();
    return true;
  }

  /** Drops an index and its entries; false if there is none. */
  remove(collection: string, path: string): boolean {
    const paths = this.#paths.get(collection);
    if (!paths?.has(path)) return false;
    this.#storage.dropIndex(indexName(collection, path));
    const rest = new Set(paths);
    rest.delete(path);
    if (rest.size > 0) this.#paths.set(collection, rest);
    else this.#paths.delete(collection);
    this.#save();
    return true;
  }

  /** Moves a record's entries from what it showed before to what it shows now. */
  update(collection: string, id: string, before: ValueMap | undefined, after: ValueMap | undefined): void {
    const paths = this.#paths.get(collection);
    if (!paths) return;
    for (const path of paths) {
      const parts = path.split('.');
      const name = indexName(collection, path);
      const oldKeys = new Map(keysAt(before, parts).map((k) => [Buffer.from(k).toString('latin1'), k]));
      const newKeys = new Map(keysAt(after, parts).map((k) => [Buffer.from(k).toString('latin1'), k]));
      for (const [s, k] of oldKeys) if (!newKeys.has(s)) this.#storage.removeIndexEntry(name, k, id);
      for (const [s, k] of newKeys) if (!oldKeys.has(s)) this.#storage.addIndexEntry(name, k, id);
    }
  }

  #save(): void {
    const entries: string[][] = [];
    for (const [collection, paths] of this.#paths) for (const path of paths) entries.push([collection, path]);
    this.#storage.setMeta(META_INDEXES, encodeValue(entries));
  }
}
