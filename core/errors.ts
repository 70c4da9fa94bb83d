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
 * A write to an output failed. `retriable` says whether the same write may succeed later
 * (network error, 5xx, 429, an unauthorised or missing database) or never will as sent (400:
 * bad points). `refused`, when the output could tell, lists the indices of the lines the
 * destination refused (the others were taken); without it the runtime isolates them itself.
 */
export class WriteError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status?: number,
    readonly refused?: number[],
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

/** The delivery runtime is stopping: a wait or retry was cut short. */
export class StoppedError extends Error {
  constructor() {
    super('stopping');
    this.name = 'StoppedError';
  }
}

/**
 * Whether a failed write timed out: the destination hangs rather than refuses, and retrying
 * right away would hold the batch (and its acknowledgements) for another whole timeout.
 */
export function isTimeout(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return e.name === 'TimeoutError' || /timed? ?out|aborted due to timeout/i.test(e.message);
}

/** Socket-level error codes: the same request may work once the peer is back. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Whether a failed write may succeed later as it is. A WriteError says so itself; network and
 * timeout errors may; anything else (a bug, a value the output cannot take) will not, so the
 * runtime isolates the records that cause it instead of retrying them forever.
 */
export function isRetriable(e: unknown): boolean {
  if (e instanceof WriteError) return e.retriable;
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError' || e.name === 'TimeoutError') return true;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}
