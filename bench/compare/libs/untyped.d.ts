/** The few entry points the comparison uses of libraries that ship no type declarations. */

declare namespace PouchDB {
  interface Database {
    get(id: string): Promise<Record<string, unknown>>;
    put(doc: Record<string, unknown>): Promise<unknown>;
    bulkDocs(docs: Record<string, unknown>[]): Promise<unknown>;
    allDocs(options: { include_docs: boolean }): Promise<{ rows: { doc?: Record<string, unknown> }[] }>;
    info(): Promise<{ update_seq: number | string }>;
    close(): Promise<void>;
  }
  interface Static {
    new (name: string, options?: Record<string, unknown>): Database;
    plugin(plugin: unknown): Static;
    defaults(options: Record<string, unknown>): Static;
    sync(local: Database, remote: string, options: Record<string, unknown>): { cancel(): void };
  }
}

declare module 'pouchdb-core' {
  const PouchDB: PouchDB.Static;
  export default PouchDB;
}
declare module 'pouchdb-adapter-http' {
  const plugin: unknown;
  export default plugin;
}
declare module 'pouchdb-adapter-memory' {
  const plugin: unknown;
  export default plugin;
}
declare module 'pouchdb-mapreduce' {
  const plugin: unknown;
  export default plugin;
}
declare module 'pouchdb-replication' {
  const plugin: unknown;
  export default plugin;
}
declare module 'express-pouchdb' {
  function expressPouchdb(pouch: PouchDB.Static, options: Record<string, unknown>): { listen(port: number, host: string): unknown };
  export default expressPouchdb;
}

declare module '@orbitdb/core' {
  export interface OrbitDocuments {
    address: string;
    put(doc: Record<string, unknown>): Promise<string>;
    get(key: string): Promise<{ value: Record<string, unknown> } | undefined>;
    all(): Promise<{ key: string; value: Record<string, unknown> }[]>;
    log: { values(): Promise<unknown[]> };
    close(): Promise<void>;
  }
  export interface OrbitDB {
    open(nameOrAddress: string, options?: Record<string, unknown>): Promise<OrbitDocuments>;
    stop(): Promise<void>;
  }
  export function createOrbitDB(options: { ipfs: unknown; directory: string }): Promise<OrbitDB>;
  export function IPFSAccessController(options: { write: string[] }): unknown;
}
