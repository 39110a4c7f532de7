/**
 * The query language: validation (`parseQuery`), evaluation (`matches`), find options, index
 * keys and planning. One language serves find, live queries, selective sync and relay rules.
 */
export { compareValues } from './compare.ts';
export { indexKeysOf } from './index-key.ts';
export { isMissing, matches, valueAt } from './match.ts';
export { compareRecords, type FindOptions, type ParsedOptions, parseOptions, type SortKey } from './options.ts';
export { type Plan, planQuery } from './plan.ts';
export { type Condition, parseQuery, type Query, QueryError } from './query.ts';
