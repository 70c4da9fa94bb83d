/** Server facts read from InfluxDB's `/ping`. */
export interface ServerInfo {
  version: string;
  /** Which write API to use: v1 `/write` before 1.8, the v2 API from 1.8 on (2.x, 3.x). */
  api: 'v1' | 'v2';
}

/** Picks the write API for a server version string (`1.6.7~rc0`, `v2.7.1`, `3.0.0`). */
export function apiForVersion(version: string): 'v1' | 'v2' {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return 'v2';
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 1 || (major === 1 && minor < 8) ? 'v1' : 'v2';
}

/** Pings the server; rejects when it does not answer. */
export async function ping(url: string, timeoutMs = 2000): Promise<ServerInfo> {
  const res = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer();
  if (res.status !== 204 && res.status !== 200) throw new Error(`InfluxDB /ping answered ${res.status}`);
  const version = res.headers.get('x-influxdb-version') ?? 'unknown';
  return { version, api: apiForVersion(version) };
}
