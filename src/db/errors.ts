/** Errors of the database API. */
import { BlazeError } from '../errors.ts';

/** The record does not exist (never inserted, or deleted). */
export class NotFoundError extends BlazeError {
  override name = 'NotFoundError';
  constructor(collection: string, id: string) {
    super(`no record '${id}' in ${collection}`);
  }
}

/** An insert named an id that already exists. */
export class AlreadyExistsError extends BlazeError {
  override name = 'AlreadyExistsError';
  constructor(collection: string, id: string) {
    super(`record '${id}' already exists in ${collection}`);
  }
}

/** The store belongs to another database id than the one asked for. Nothing was changed. */
export class DatabaseIdMismatchError extends BlazeError {
  override name = 'DatabaseIdMismatchError';
  constructor(stored: string, asked: string) {
    super(`this store holds database '${stored}', not '${asked}'`);
  }
}

/** The store was created with another identity than the one it was opened with. */
export class IdentityMismatchError extends BlazeError {
  override name = 'IdentityMismatchError';
  constructor(stored: string) {
    super(`this store's node id is ${stored}, not the one of the identity given`);
  }
}

/** The database was closed. */
export class ClosedError extends BlazeError {
  override name = 'ClosedError';
  constructor() {
    super('the database is closed');
  }
}
