/**
 * The `blaze` commands over a local store. Each takes its positional arguments and options,
 * returns what to print (an object for --json, a string for people), or throws.
 */
import type { BlazeDB } from '../../src/db/index.ts';
import { ValidationError } from '../../src/errors.ts';
import type { Value } from '../../src/values/value.ts';
import { keyValues, recordColumns, table } from './format.ts';
import { fromJson, parseLooseValue, toJson } from './json.ts';

/** Bad command-line usage: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Output {
  json: unknown;
  text: string;
}

export interface Command {
  readonly usage: string;
  readonly summary: string;
  /** Exact number of positional arguments, or [min, max]. */
  readonly args: number | readonly [number, number];
  run(db: BlazeDB, args: readonly string[], options: Readonly<Record<string, string | undefined>>): Promise<Output>;
}

function parseJsonArg(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseObjectArg(text: string, what: string): Record<string, Value> {
  const v = parseJsonArg(text, what);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${what} must be a JSON object`);
  return fromJson(v) as Record<string, Value>;
}

function parseCount(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} must be a non-negative integer`);
  return Number(text);
}

const done = (message: string, json: unknown = { ok: true }): Output => ({ json, text: message });

const records = (rows: Record<string, unknown>[]): Output => ({
  json: toJson(rows),
  text: rows.length === 0 ? '(no records)' : table(toJson(rows) as Record<string, unknown>[], recordColumns(rows)),
});

/** A `NAME COLLECTION ID FIELD VALUE` command calling one collection method. */
function fieldValueCommand(name: string, summary: string, method: 'add' | 'remove' | 'resolve', said: string): Command {
  return {
    usage: `${name} COLLECTION ID FIELD VALUE`,
    summary,
    args: 4,
    async run(db, [collection, id, field, value]) {
      await db.collection(collection as string)[method](id as string, field as string, parseLooseValue(value as string));
      return done(said);
    },
  };
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  init: {
    usage: 'init --db-id DBID',
    summary: 'create the store (or check an existing one holds DBID)',
    args: 0,
    async run(db) {
      return done(`database ${db.dbId} ready; node ${db.nodeId}`, { dbId: db.dbId, nodeId: db.nodeId });
    },
  },
  insert: {
    usage: 'insert COLLECTION JSON [--id ID]',
    summary: 'insert a record; prints its id',
    args: 2,
    async run(db, [collection, json], options) {
      const id = await db
        .collection(collection as string)
        .insert(parseObjectArg(json as string, 'JSON'), options.id !== undefined ? { id: options.id } : {});
      return { json: { id }, text: id };
    },
  },
  update: {
    usage: 'update COLLECTION ID JSON',
    summary: 'change the given fields of a record',
    args: 3,
    async run(db, [collection, id, json]) {
      await db.collection(collection as string).update(id as string, parseObjectArg(json as string, 'JSON'));
      return done('updated');
    },
  },
  incr: {
    usage: 'incr COLLECTION ID FIELD N',
    summary: 'add N to a counter field',
    args: 4,
    async run(db, [collection, id, field, n]) {
      if (!/^-?\d+$/.test(n as string)) throw new UsageError('N must be an integer');
      await db.collection(collection as string).increment(id as string, field as string, Number(n));
      return done('incremented');
    },
  },
  add: fieldValueCommand('add', 'add VALUE to a set field', 'add', 'added'),

  remove: fieldValueCommand('remove', 'remove VALUE from a set field', 'remove', 'removed'),

  delete: {
    usage: 'delete COLLECTION ID',
    summary: 'delete a record',
    args: 2,
    async run(db, [collection, id]) {
      await db.collection(collection as string).delete(id as string);
      return done('deleted');
    },
  },
  get: {
    usage: 'get COLLECTION ID',
    summary: 'print a record',
    args: 2,
    async run(db, [collection, id]) {
      const record = await db.collection(collection as string).get(id as string);
      if (!record) throw new NotFound(`no record '${id}' in ${collection}`);
      return { json: toJson(record), text: keyValues(toJson(record) as Record<string, unknown>) };
    },
  },
  find: {
    usage: 'find COLLECTION [QUERY_JSON] [--sort JSON] [--limit N] [--offset N]',
    summary: 'print the records matching a query',
    args: [1, 2],
    async run(db, [collection, query], options) {
      const findOptions = {
        ...(options.sort !== undefined ? { sort: parseJsonArg(options.sort, '--sort') as Record<string, 1 | -1> } : {}),
        ...(options.limit !== undefined ? { limit: parseCount(options.limit, '--limit') } : {}),
        ...(options.offset !== undefined ? { offset: parseCount(options.offset, '--offset') } : {}),
      };
      const q = query === undefined ? undefined : (fromJson(parseJsonArg(query, 'QUERY_JSON')) as Record<string, unknown>);
      return records(await db.collection(collection as string).find(q, findOptions));
    },
  },
  history: {
    usage: 'history COLLECTION ID',
    summary: 'list the ops that made a record, with old and new values',
    args: 2,
    async run(db, [collection, id]) {
      const entries = db.history(collection as string, id as string);
      const rows = entries.map((e) => ({
        op: e.opId,
        at: e.at.toISOString(),
        kind: e.kind,
        changes: e.changes
          .map((c) => `${c.field}: ${JSON.stringify(toJson(c.before)) ?? '-'} -> ${JSON.stringify(toJson(c.after)) ?? '-'}`)
          .join('; '),
      }));
      return { json: toJson(entries), text: rows.length === 0 ? '(no history)' : table(rows, ['op', 'at', 'kind', 'changes']) };
    },
  },
  conflicts: {
    usage: 'conflicts [COLLECTION]',
    summary: 'list fields holding concurrent values',
    args: [0, 1],
    async run(db, [collection]) {
      const names = collection !== undefined ? [collection] : db.collectionNames();
      const rows: Record<string, unknown>[] = [];
      for (const name of names)
        for (const c of await db.collection(name).conflicts()) rows.push({ collection: name, id: c.id, field: c.field, values: c.values });
      return {
        json: toJson(rows),
        text:
          rows.length === 0 ? '(no conflicts)' : table(toJson(rows) as Record<string, unknown>[], ['collection', 'id', 'field', 'values']),
      };
    },
  },
  resolve: fieldValueCommand('resolve', 'settle a conflicted field to VALUE', 'resolve', 'resolved'),

  undo: {
    usage: 'undo OPID',
    summary: 'write ops that undo op OPID (NODE:SEQ, from history)',
    args: 1,
    async run(db, [opId]) {
      const op = await db.undo(opId as string);
      return { json: { op }, text: op };
    },
  },
  index: {
    usage: 'index COLLECTION PATH [--drop]',
    summary: 'create (or drop) an index on a field path',
    args: 2,
    async run(db, [collection, path], options) {
      const c = db.collection(collection as string);
      const changed = options.drop !== undefined ? await c.dropIndex(path as string) : await c.createIndex(path as string);
      return done(changed ? 'done' : 'nothing to do', { changed });
    },
  },
  filter: {
    usage: 'filter [FILTER_JSON]',
    summary: 'show, or set, the selective-sync filter (makes the store a partial replica)',
    args: [0, 1],
    async run(db, [spec]) {
      if (spec !== undefined) await db.setSyncFilter(parseJsonArg(spec, 'FILTER_JSON') as never);
      const filter = db.syncFilter;
      return { json: { filter: filter ?? null }, text: filter ? JSON.stringify(filter) : '(none: a full replica)' };
    },
  },
  stats: {
    usage: 'stats',
    summary: 'record counts, op-log size, version vector, GC frontier, members and their lag',
    args: 0,
    async run(db) {
      const s = db.stats();
      const gc = s.gc;
      const members = gc.members.map(
        (m) => `${m.id}${m.evicted ? ' (evicted)' : ''}: lag ${m.lagOps ?? '?'} ops, seen ${new Date(m.lastSeen).toISOString()}`,
      );
      return {
        json: s,
        text: keyValues({
          'database id': s.dbId,
          'node id': s.nodeId,
          storage: s.storage,
          encrypted: s.encrypted,
          'ops in log': s.opCount,
          ...Object.fromEntries(Object.entries(s.collections).map(([name, n]) => [`records in ${name}`, n])),
          'version vector': s.versionVector,
          'gc frontier': gc.frontier,
          'history from': gc.historyFrom?.toISOString() ?? 'the beginning',
          'last compaction': gc.lastCompaction ? `${gc.lastCompaction.at.toISOString()}, ${gc.lastCompaction.removed} ops` : 'none',
          members: members.length > 0 ? members.join('; ') : 'none yet',
        }),
      };
    },
  },
  compact: {
    usage: 'compact',
    summary: 'fold ops every member holds (the home relay announced them stable) into base states; shows progress',
    args: 0,
    async run(db) {
      const before = db.stats().opCount;
      const progress = (removed: number) => {
        if (process.stderr.isTTY) process.stderr.write(`\rcompacting: ${removed} of up to ${before} ops`);
      };
      const result = await db.compact({ onProgress: progress });
      if (process.stderr.isTTY) process.stderr.write('\n');
      return {
        json: result,
        text: `removed ${result.removed} ops in ${result.steps} steps; ${result.opCount} left in the log`,
      };
    },
  },
};

/** A thing that was asked for does not exist: exit code 1, like other runtime errors. */
export class NotFound extends Error {
  override name = 'NotFound';
}

export function checkArgCount(command: Command, args: readonly string[]): void {
  const [min, max] = typeof command.args === 'number' ? [command.args, command.args] : command.args;
  if (args.length < min || args.length > max) throw new UsageError(`usage: blaze --db DIR ${command.usage}`);
}

export { ValidationError };
