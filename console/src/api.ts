import { fetchEventSource } from '@microsoft/fetch-event-source';

/** An API answer other than 2xx: the status and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'jl.token';

/** The token of this tab (sessionStorage: gone when the tab closes, never sent anywhere but this API). */
export const savedToken = () => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const saveToken = (t: string) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY));

/** Calls the API with the bearer token; JSON in and out (text for `asText`). */
export async function api<T>(path: string, opts: { method?: string; body?: unknown; token?: string; asText?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? savedToken()}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method: opts.method ?? 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  if (!res.ok) {
    let message = res.statusText;
    try {
      message = ((await res.json()) as { message?: string }).message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  if (res.status === 204) return undefined as T;
  return (opts.asText ? await res.text() : await res.json()) as T;
}

/**
 * Follows `/events` (Server-Sent Events with the bearer token in a header, which EventSource
 * cannot send): calls `onOverview` for every overview, reconnects after a lost connection,
 * and reports the connection state. Returns a function that stops it.
 */
export function followEvents(onOverview: (o: Overview) => void, onHistory: (h: { at: number; received: number }[]) => void, onState: (connected: boolean) => void, onRefused: () => void): () => void {
  const stop = new AbortController();
  void fetchEventSource('/events', {
    headers: { authorization: `Bearer ${savedToken()}` },
    signal: stop.signal,
    openWhenHidden: true,
    onopen: async (res) => {
      if (!res.ok) throw new ApiError(res.status, res.statusText);
      onState(true);
    },
    onmessage: (m) => {
      if (m.event === 'overview') onOverview(JSON.parse(m.data) as Overview);
      else if (m.event === 'history') onHistory(JSON.parse(m.data) as { at: number; received: number }[]);
    },
    onerror: (e) => {
      onState(false);
      // A refused token will not become valid by retrying: back to sign-in; anything else, retry in 2 s.
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) throw e;
      return 2000;
    },
    // The server ended the stream (it restarts, or a proxy timed out): an error, so it is retried.
    onclose: () => {
      onState(false);
      throw new Error('event stream closed');
    },
  }).catch((e: unknown) => {
    onState(false);
    if (e instanceof ApiError && e.status === 401) onRefused();
  });
  return () => stop.abort();
}

export type Role = 'viewer' | 'operator' | 'admin';
export interface Session {
  name: string;
  role: Role;
  clearance: 'general' | 'important' | 'core';
  /** What this process offers (a role of the Kafka topology keeps only part). */
  features: { incidents: boolean; devices: boolean; deadLetters: boolean; delivery: boolean; chain: boolean; capacity: boolean };
}

export interface Overview {
  at: number;
  stats: {
    uptimeSec?: number;
    balanced?: boolean;
    pending?: number;
    totals?: { received: number; stored: number; deadLettered: number; inSpool: number; nacked: number };
    reasons?: Record<string, number>;
    mqtt?: { connected: boolean; subscribed: boolean; reconnects: number };
    influx?: { up: boolean; api?: string; version?: string };
    kafka?: unknown;
    spool?: { bytes: number; limit: number; alarm: boolean; full: boolean };
    incidents?: Record<string, number>;
    alerts?: { outbox: number; delivered: number; failures: number };
  };
  ready: { ok: boolean; checks: Record<string, boolean> };
  devices: { matrix: { sector: string; region: string; online: number; total: number }[]; online: number; total: number } | null;
  incidents: { openByLevel: Record<string, number>; overdue: number; version: string };
}
