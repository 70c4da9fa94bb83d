/** Exponential backoff with full jitter: a random delay in [min, min * 2^attempt], capped. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.round(minMs + random() * (ceiling - minMs));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
