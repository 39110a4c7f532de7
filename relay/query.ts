/**
 * The relay's server-side query endpoint: `POST /query` with a query token (`blaze-node token
 * --query`) as `Authorization: Bearer <token>` and a JSON body
 *
 *   { "db": "team", "collection": "bugs", "where": { "status": "open" },
 *     "sort": { "priority": -1 }, "limit": 50, "offset": 0 }
 *
 * answers `{ "records": [ { "_id": ..., ...fields } ] }` (values in the CLI's JSON forms,
 * node/cli/json.ts). The read rules hold as they do for sync: the token's claims make them a
 * filter, and the query runs within it (a collection the token may not read is refused).
 * Every refusal is a status and `{ "error": { "name", "message" } }`; nothing is written.
 */
import { fromJson, toJson } from '../node/cli/json.ts';
import { TokenError } from '../node/mesh/tokens.ts';
import { BlazeError, ValidationError } from '../src/errors.ts';
import type { Query } from '../src/query/index.ts';
import type { FindOptions } from '../src/query/options.ts';
import type { RelayHub } from './hub.ts';

/** Largest request body read. */
export const MAX_QUERY_BODY_BYTES = 64 * 1024;
/** Records answered when the request sets no limit, and the most it may ask for. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

/** A refused query: the HTTP status and why. */
export class QueryRefusedError extends BlazeError {
  override name = 'QueryRefusedError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface QueryRequest {
  readonly db: string;
  readonly collection: string;
  readonly where?: Query;
  readonly options: FindOptions;
}

/** Runs one query request; throws QueryRefusedError (or a ValidationError for a bad query). */
export async function runQuery(hub: RelayHub, authorization: string | undefined, body: string): Promise<{ records: unknown[] }> {
  const request = parseRequest(body);
  const token = /^Bearer ([\w.-]+)$/.exec(authorization ?? '')?.[1];
  if (token === undefined) throw new QueryRefusedError(401, 'needs Authorization: Bearer <query token> (blaze-node token --query)');
  let claims: Awaited<ReturnType<RelayHub['verifyQueryToken']>>;
  try {
    claims = await hub.verifyQueryToken(token, request.db);
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    hub.metrics.authFailures.inc({ reason: err.reason });
    throw new QueryRefusedError(401, err.message);
  }
  const db = await hub.heldDatabase(request.db);
  if (!db) throw new QueryRefusedError(404, `this relay holds no database '${request.db}'`);
  let where = request.where;
  const rules = hub.readRules;
  if (rules) {
    const allowed = rules.allowedFilter(claims.payload);
    if (!allowed?.includesCollection(request.collection)) {
      hub.metrics.authFailures.inc({ reason: 'rules' });
      throw new QueryRefusedError(403, `the rules let this token read nothing of '${request.collection}'`);
    }
    const rule = allowed.spec.collections[request.collection]?.where;
    if (rule) where = where ? { $and: [where, rule] } : rule;
  }
  const records = await db.collection(request.collection).find(where, request.options);
  return { records: records.map((r) => toJson(r)) };
}

function parseRequest(body: string): QueryRequest {
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch (err) {
    throw new QueryRefusedError(400, `the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new QueryRefusedError(400, 'the body is { db, collection, where?, sort?, limit?, offset? }');
  const { db, collection, where, sort, limit, offset, ...rest } = input as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new ValidationError(extra, 'unknown key (db, collection, where, sort, limit, offset)');
  if (typeof db !== 'string' || db.length === 0) throw new ValidationError('db', 'a database id');
  if (typeof collection !== 'string' || collection.length === 0) throw new ValidationError('collection', 'a collection name');
  if (limit !== undefined && (!Number.isInteger(limit) || (limit as number) < 0 || (limit as number) > MAX_LIMIT))
    throw new ValidationError('limit', `a whole number up to ${MAX_LIMIT}`);
  return {
    db,
    collection,
    ...(where !== undefined ? { where: fromJson(where) as Query } : {}),
    options: {
      limit: (limit as number | undefined) ?? DEFAULT_LIMIT,
      ...(sort !== undefined ? { sort: sort as FindOptions['sort'] } : {}),
      ...(offset !== undefined ? { offset: offset as number } : {}),
    },
  };
}
