/** Storage errors. */
import { BlazeError } from '../errors.ts';

/** The storage engine failed or was misused (closed, duplicate op...). */
export class StorageError extends BlazeError {
  override name = 'StorageError';
}

/** The path holds something that is not a BlazeDB store. Nothing was changed. */
export class NotABlazeStoreError extends BlazeError {
  override name = 'NotABlazeStoreError';
}

/** The store was written by a newer BlazeDB (format version above this one's). Nothing was changed. */
export class StoreVersionError extends BlazeError {
  override name = 'StoreVersionError';
  readonly found: number;
  readonly supported: number;
  constructor(found: number, supported: number) {
    super(`store format version ${found} is newer than this BlazeDB supports (${supported}); upgrade BlazeDB to open it`);
    this.found = found;
    this.supported = supported;
  }
}
