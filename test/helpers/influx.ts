/** InfluxQL over /query: the way tests read what the pipeline stored. */
import { influxQuery as query, type Series } from '../../storage/influx/influxql.js';

export type { Series };

export async function influxQuery(url: string, db: string, q: string): Promise<Series[]> {
  return query({ url, database: db }, q, 'ns');
}

/** Points stored in a measurement (every point has the integer field `seq`). */
export async function countPoints(url: string, db: string, measurement: string, where = ''): Promise<number> {
  const s = await influxQuery(url, db, `SELECT count("seq") FROM "${measurement}"${where ? ' WHERE ' + where : ''}`).catch((e: Error) => {
    if (/database not found/.test(e.message)) return [];
    throw e;
  });
  return s.length ? Number(s[0].values[0][1]) : 0;
}

/** Rows of a query as objects keyed by column. */
export async function rows(url: string, db: string, q: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const s of await influxQuery(url, db, q)) for (const v of s.values) out.push(Object.fromEntries(s.columns.map((c, i) => [c, v[i]])));
  return out;
}

/** Points stored over all measurements of the shipped catalogue. */
export async function countAllPoints(url: string, db: string): Promise<number> {
  const { loadCatalogue } = await import('../../config/catalogue.js');
  const { defaultConfigFile, loadPipelineConfig } = await import('../../app/config.js');
  const measurements = loadCatalogue(loadPipelineConfig(defaultConfigFile(), {}).catalogue).entries.map((e) => e.measurement);
  const counts = await Promise.all(measurements.map((m) => countPoints(url, db, m)));
  return counts.reduce((a, b) => a + b, 0);
}
