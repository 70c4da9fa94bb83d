import { useEffect, useState } from 'preact/hooks';
import { api, type Session } from '../api.js';
import { useI18n } from '../i18n.js';
import { duration, errorText, FilterSelect, Head, LevelBadge, useApi, useNow } from '../util.js';
import { PREFECTURES } from './overview.js';

interface TimelineEntry {
  at: number;
  event: string;
  by?: string;
  note?: string;
  level?: number;
}
interface Incident {
  id: string;
  kind: string;
  detector: string;
  category: string;
  level: number;
  state: 'open' | 'acknowledged' | 'resolved';
  sector: string;
  region: string;
  code?: string;
  grade: string;
  title: string;
  lastDetail: string;
  lastEvidence?: { view: string; likelihood: number; expected: number; noise: number; z: number; hour: number };
  openedAt: number;
  count: number;
  devices: Record<string, number>;
  deviceCount: number;
  active: boolean;
  reportBy?: number;
  reportedAt?: number;
  reportedBy?: string;
  overdue: boolean;
  acknowledgedBy?: string;
  resolvedBy?: string;
  timeline: TimelineEntry[];
}

const PAGE = 100;
const CATEGORIES = ['malware', 'network-attack', 'data-security', 'information-content', 'device-fault', 'violation', 'security-hazard', 'abnormal-behaviour', 'force-majeure', 'other'];
const SECTORS = ['agri', 'v2x', 'energy', 'iiot'];

/** Incidents: filters, the list with report-by countdowns, and one incident's detail and actions. */
export function IncidentsPage({ session, version }: { session: Session; version: string }) {
  const i = useI18n();
  const { t } = i;
  // Unresolved by default: what needs the operator, most severe first.
  const [filter, setFilter] = useState({ state: 'unresolved', maxLevel: '', category: '', sector: '', region: '', overdue: '' });
  const [limit, setLimit] = useState(PAGE);
  const [selected, setSelected] = useState<string | null>(null);
  const [changed, setChanged] = useState(0);
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '')).toString();
  const [list, error] = useApi<{ total: number; items: Incident[] }>(`/incidents?sort=level&limit=${limit}${query ? `&${query}` : ''}`, `${version}:${changed}`);
  const now = useNow();
  const field = (k: keyof typeof filter, label: string, options: [string, string][]) => <FilterSelect label={label} value={filter[k]} options={options} onChange={(v) => (setFilter({ ...filter, [k]: v }), setLimit(PAGE))} testid={`filter-${k}`} />;
  const items = list?.items ?? [];
  return (
    <>
      <h2>{t('incidents')}</h2>
      <form class="filters" aria-label={t('filters')} onSubmit={(e) => e.preventDefault()}>
        {field('state', t('state'), ['unresolved', 'open', 'acknowledged', 'resolved'].map((s) => [s, t(`st_${s}` as 'st_open')]))}
        {field('maxLevel', t('level'), [1, 2, 3, 4].map((l) => [String(l), i.level(l)]))}
        {field('category', t('category'), CATEGORIES.map((c) => [c, i.category(c)]))}
        {field('sector', t('sector'), SECTORS.map((s) => [s, i.sector(s)]))}
        {field('region', t('region'), PREFECTURES.map((r) => [r, i.region(r)]))}
        {field('overdue', t('overdue'), [['true', t('yes')], ['false', t('no')]])}
      </form>
      {error && (
        <p class="bad" role="alert">
          {error}
        </p>
      )}
      <div class="scroll">
        <table class="list" data-testid="incident-list">
          <caption class="sr">{t('incidents')}</caption>
          <Head cols={[t('level'), t('titleCol'), t('category'), t('sector'), t('region'), t('state'), t('reportBy'), t('opened')]} />
          <tbody>
            {items.map((inc) => (
              <tr key={inc.id} class={selected === inc.id ? 'sel' : ''} data-incident={inc.id}>
                <td>
                  <LevelBadge level={inc.level} />
                </td>
                <td>
                  <button type="button" class="link" onClick={() => setSelected(inc.id)}>
                    {i.incidentTitle(inc)}
                  </button>
                </td>
                <td>{i.category(inc.category)}</td>
                <td>{i.sector(inc.sector)}</td>
                <td>{i.region(inc.region)}</td>
                <td>
                  <span class={`state ${inc.state}`}>{t(`st_${inc.state}`)}</span>
                </td>
                <td>
                  <ReportBy inc={inc} now={now} />
                </td>
                <td>{i.time(inc.openedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {list && items.length === 0 && <p class="muted">{t('noIncidents')}</p>}
      {list && list.total > 0 && (
        <p class="muted" data-testid="incident-count">
          {i.number(items.length)} / {i.number(list.total)}{' '}
          {list.total > items.length && (
            <button type="button" onClick={() => setLimit(limit + PAGE)}>
              {t('more')}
            </button>
          )}
        </p>
      )}
      {selected && <IncidentDetail key={selected} id={selected} session={session} version={`${version}:${changed}`} onChange={() => setChanged(changed + 1)} onClose={() => setSelected(null)} />}
      {session.role !== 'viewer' && <ChainCheck />}
    </>
  );
}

function ReportBy({ inc, now }: { inc: Incident; now: number }) {
  const i = useI18n();
  if (inc.reportedAt) return <span class="ok">✓ {i.t('reported')}</span>;
  if (!inc.reportBy) return <span class="muted">—</span>;
  const left = inc.reportBy - now;
  return <span class={left < 0 || inc.overdue ? 'bad' : left < 15 * 60_000 ? 'warn' : ''}>{left < 0 ? `${i.t('late')} ${duration(left, i.lang)}` : `${i.t('left')} ${duration(left, i.lang)}`}</span>;
}

function IncidentDetail({ id, session, version, onChange, onClose }: { id: string; session: Session; version: string; onChange: () => void; onClose: () => void }) {
  const i = useI18n();
  const { t } = i;
  const [inc, error] = useApi<Incident>(`/incidents/${encodeURIComponent(id)}`, version);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState('');
  const [report, setReport] = useState<string | null>(null);
  const now = useNow();
  useEffect(() => setReport(null), [id]);
  const act = (action: 'ack' | 'resolve' | 'reported') => {
    setBusy(true);
    setActionError('');
    api(`/incidents/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: note ? { note } : {} })
      .then(() => (setNote(''), onChange()))
      .catch((e: unknown) => setActionError(errorText(e, t)))
      .finally(() => setBusy(false));
  };
  const showReport = () => {
    api<string>(`/incidents/${encodeURIComponent(id)}/report?format=md`, { asText: true }).then(setReport, (e: unknown) => setActionError(errorText(e, t)));
  };
  if (error) return <p class="bad">{error}</p>;
  // Never the buttons of one incident over another's facts.
  if (!inc || inc.id !== id) return <p>{t('loading')}</p>;
  const canAct = session.role !== 'viewer';
  return (
    <section class="card detail" aria-labelledby="detail-title" data-testid="incident-detail">
      <div class="row">
        <h3 id="detail-title">
          <LevelBadge level={inc.level} /> {i.incidentTitle(inc)}
        </h3>
        <button type="button" onClick={onClose}>
          {t('close')}
        </button>
      </div>
      <dl class="facts">
        <dt>{t('state')}</dt>
        <dd data-testid="detail-state">{t(`st_${inc.state}`)}</dd>
        <dt>{t('category')}</dt>
        <dd>{i.category(inc.category)}</dd>
        <dt>{t('sector')}</dt>
        <dd>{i.sector(inc.sector)}</dd>
        <dt>{t('region')}</dt>
        <dd>{i.region(inc.region)}</dd>
        <dt>{t('grade')}</dt>
        <dd>{i.grade(inc.grade)}</dd>
        <dt>{t('reportBy')}</dt>
        <dd>
          {inc.reportBy ? `${i.time(inc.reportBy)} · ` : ''}
          <ReportBy inc={inc} now={now} />
        </dd>
        <dt>{t('detail')}</dt>
        <dd>{inc.lastDetail}</dd>
      </dl>
      {inc.lastEvidence && (
        <>
          <h4>{t('evidence')}</h4>
          <p>
            {inc.lastEvidence.view}: z = {inc.lastEvidence.z.toFixed(1)}, expected {inc.lastEvidence.expected.toFixed(2)} ± {inc.lastEvidence.noise.toFixed(2)}, likelihood {inc.lastEvidence.likelihood.toExponential(1)}, hour {inc.lastEvidence.hour}
          </p>
        </>
      )}
      <h4>
        {t('deviceList')} ({inc.deviceCount})
      </h4>
      <ul class="devices">
        {Object.entries(inc.devices).map(([d, at]) => (
          <li key={d}>
            <code>{d}</code> <small>{i.time(at)}</small>
          </li>
        ))}
      </ul>
      <h4>{t('timeline')}</h4>
      <ol class="timeline">
        {inc.timeline.map((e, n) => (
          <li key={n}>
            <time>{i.time(e.at)}</time> <strong>{i.event(e.event)}</strong>
            {e.level ? ` · ${i.level(e.level)}` : ''}
            {e.by ? ` · ${e.by}` : ''}
            {e.note ? ` · ${e.note}` : ''}
          </li>
        ))}
      </ol>
      {canAct && (
        <div class="actions">
          <label for="note">{t('note')}</label>
          <textarea id="note" rows={2} maxLength={4000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          <div class="buttons">
            {inc.state === 'open' && (
              <button type="button" class="primary" disabled={busy} onClick={() => act('ack')}>
                {t('acknowledge')}
              </button>
            )}
            {inc.state !== 'resolved' && (
              <button type="button" disabled={busy} onClick={() => act('resolve')}>
                {t('resolve')}
              </button>
            )}
            {!inc.reportedAt && (
              <button type="button" disabled={busy} onClick={() => act('reported')}>
                {t('markReported')}
              </button>
            )}
          </div>
        </div>
      )}
      {actionError && (
        <p class="bad" role="alert">
          {actionError}
        </p>
      )}
      <p>
        <button type="button" onClick={showReport}>
          {t('report')}
        </button>
      </p>
      {report !== null && (
        <pre class="report" data-testid="report" tabIndex={0}>
          {report}
        </pre>
      )}
    </section>
  );
}

function ChainCheck() {
  const { t } = useI18n();
  const [result, setResult] = useState<{ ok: boolean; records?: number; problem?: string } | null>(null);
  const [error, setError] = useState('');
  const run = () => {
    setError('');
    api<{ ok: boolean; records?: number; problem?: string }>('/incidents/chain').then(setResult, (e: unknown) => setError(errorText(e, t)));
  };
  return (
    <section class="card">
      <h3>{t('chainCheck')}</h3>
      <button type="button" onClick={run}>
        {t('runCheck')}
      </button>{' '}
      {result && (
        <span class={result.ok ? 'ok' : 'bad'} data-testid="chain">
          {result.ok ? `✓ ${t('chainOk')}` : `✗ ${t('chainBroken')}${result.problem ? `: ${result.problem}` : ''}`}
          {result.records !== undefined && ` (${result.records} ${t('records')})`}
        </span>
      )}
      {error && <span class="bad">{error}</span>}
    </section>
  );
}
