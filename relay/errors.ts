/** Errors of `blaze-node`, each a clear typed failure that changed nothing. */
import { BlazeError } from '../src/errors.ts';

/** A configuration value (flag, file, environment variable) is not acceptable. */
export class RelayConfigError extends BlazeError {
  override name = 'RelayConfigError';
  /** Where the value came from, e.g. `--http` or `config.json: maxConnections`. */
  readonly source: string;
  constructor(source: string, reason: string) {
    super(`${source}: ${reason}`);
    this.source = source;
  }
}

/** The data directory has no relay keys (`blaze-node init --data DIR` makes them). */
export class NotInitializedError extends BlazeError {
  override name = 'NotInitializedError';
  constructor(dir: string, missing: string) {
    super(`${dir} is not a blaze-node data directory (no ${missing}); run: blaze-node init --data ${dir}`);
  }
}

/** `blaze-node init` on a directory that already has keys: they are never overwritten. */
export class AlreadyInitializedError extends BlazeError {
  override name = 'AlreadyInitializedError';
  constructor(dir: string) {
    super(`${dir} already holds relay keys; they are kept (delete them only to start a new relay identity)`);
  }
}
