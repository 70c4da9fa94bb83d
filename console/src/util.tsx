import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api.js';
import { LEVEL_CLASS, useI18n } from './i18n.js';

/** A failed call as one line for the page: the role case named, the server's message otherwise. */
export function errorText(e: unknown, t: (k: 'forbidden' | 'error') => string): string {
  if (e instanceof ApiError && e.status === 403) return t('forbidden');
  return `${t('error')}: ${(e as Error).message}`;
}

/**
 * GETs `path` whenever it or `refresh` changes: [data, error]. A new path clears what the old
 * one answered (no stale answer under a new filter or another incident's buttons); a refresh of
 * the same path keeps it on screen until the new answer arrives.
 */
export function useApi<T>(path: string, refresh: unknown = 0): [T | undefined, string | undefined] {
  const { t } = useI18n();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const shown = useRef(path);
  useEffect(() => {
    let live = true;
    if (shown.current !== path) {
      shown.current = path;
      setData(undefined);
      setError(undefined);
    }
    api<T>(path).then(
      (d) => live && (setData(d), setError(undefined)),
      (e) => live && setError(errorText(e, t)),
    );
    return () => {
      live = false;
    };
    // t is not a dependency: a language switch does not refetch.
  }, [path, refresh]);
  return [data, error];
}

export function LevelBadge({ level }: { level: number }) {
  const { level: name } = useI18n();
  return <span class={`badge ${LEVEL_CLASS[level] ?? ''}`}>{name(level)}</span>;
}

export function Status({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return <span class={ok ? 'ok' : 'bad'}>{ok ? `● ${yes}` : `▲ ${no}`}</span>;
}

export const bytes = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** A duration in minutes/hours/days, short. */
export function duration(ms: number, lang: 'zh' | 'en'): string {
  const a = Math.abs(ms);
  const [d, h, m, s] = lang === 'zh' ? ['天', '小时', '分', '秒'] : ['d', 'h', 'min', 's'];
  if (a >= 86_400_000) return `${(a / 86_400_000).toFixed(1)} ${d}`;
  if (a >= 3_600_000) return `${Math.floor(a / 3_600_000)} ${h} ${Math.floor((a % 3_600_000) / 60_000)} ${m}`;
  if (a >= 60_000) return `${Math.floor(a / 60_000)} ${m} ${Math.floor((a % 60_000) / 1000)} ${s}`;
  return `${Math.floor(a / 1000)} ${s}`;
}

/** The current time, updated every second (for countdowns). */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

/** A table's header row: one column header per label. */
export function Head({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}

/** A filter: a labelled select whose first choice, "any", is the empty value. */
export function FilterSelect({ label, value, options, onChange, testid }: { label: string; value: string; options: [string, string][]; onChange: (v: string) => void; testid?: string }) {
  const { t } = useI18n();
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.currentTarget.value)} data-testid={testid}>
        <option value="">{t('any')}</option>
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </label>
  );
}
