/**
 * A writer puts pre-encoded line protocol into InfluxDB. Calls may overlap. `write` resolves
 * when the server acknowledged every line, or rejects with a WriteError saying whether the
 * same lines may succeed later (retriable) or never will (bad points: 4xx).
 */
export interface LineWriter {
  readonly api: 'v1' | 'v2';
  write(lines: string[]): Promise<void>;
  /** Creates the database if missing (v1, as Telegraf does). */
  init(): Promise<void>;
  close(): Promise<void>;
}

export interface InfluxTarget {
  url: string;
  database: string;
  retentionPolicy: string;
  org: string;
  bucket: string;
  token: string;
  username: string;
  password: string;
  timeoutMs: number;
  gzip: boolean;
}
