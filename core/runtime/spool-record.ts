import type { SpoolRecord } from '../stores.js';
import type { Reading } from '../types.js';

/**
 * The spool record of a batch: its lines grouped by source, in the order of `sources`, so the
 * source of each line can be told again on replay (see `lineSources`) without storing it per line.
 */
export function spoolRecord(entries: { item: Reading; line: string }[]): SpoolRecord {
  const bySource = new Map<string, string[]>();
  for (const { item, line } of entries) {
    const lines = bySource.get(item.source);
    if (lines) lines.push(line);
    else bySource.set(item.source, [line]);
  }
  const sources: Record<string, number> = {};
  const lines: string[] = [];
  for (const [source, ls] of bySource) {
    sources[source] = ls.length;
    lines.push(...ls);
  }
  return { sources, lines };
}

/** The source of each line of a record written by `spoolRecord`. */
export function lineSources(record: SpoolRecord): string[] {
  const out: string[] = [];
  for (const [source, n] of Object.entries(record.sources)) for (let i = 0; i < n; i++) out.push(source);
  return out;
}
