/** Error classes shared by the stages. */

/** A config file is unusable. Names the file, the path inside it and the problem. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
    readonly line?: number,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${path || '(root)'}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * A write to storage failed. `retriable` says whether the same write may succeed later
 * (network error, 5xx, 429) or never will as sent (4xx: bad points).
 */
export class WriteError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

/** The durable spool cannot take more data; the caller must hold back acknowledgements. */
export class SpoolFullError extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    super(`spool full: ${bytes} of ${limit} bytes used`);
    this.name = 'SpoolFullError';
  }
}
