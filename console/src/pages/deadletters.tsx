import type { Session } from '../api.js';
import { TimeChart } from '../chart.js';
import { useI18n } from '../i18n.js';
import { Head, useApi } from '../util.js';

interface DeadLetter {
  at: string;
  reason: string;
  detail: string;
  topic: string;
  source: string;
  payload: string;
  payloadEncoding: string;
  payloadSize: number;
}
interface Snapshot {
  minutes: { at: number; byReason: Record<string, number>; bySource: Record<string, number> }[];
  totals: Record<string, number>;
  latest: DeadLetter[];
  recordsShown: boolean;
}

const COLOURS = ['#c62828', '#1565c0', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f', '#4e342e', '#ad1457'];

/** Dead letters since start: totals by reason, the last hour by reason, the latest records. Refreshed as the count moves. */
export function DeadLettersPage({ session, tick }: { session: Session; tick: string }) {
  const i = useI18n();
  const { t } = i;
  const [snap, error] = useApi<Snapshot>('/deadletters?limit=50', tick);
  if (error)
    return (
      <p class="bad" role="alert">
        {error}
      </p>
    );
  if (!snap) return <p>{t('loading')}</p>;
  const reasons = Object.keys(snap.totals).sort();
  // Every minute of the last hour, zero where nothing was dead-lettered.
  const lastMinute = Math.floor(Date.now() / 60_000) * 60_000;
  const slots = Array.from({ length: 60 }, (_, n) => lastMinute - (59 - n) * 60_000);
  const byMinute = new Map(snap.minutes.map((m) => [m.at, m]));
  const times = slots.map((m) => m / 1000);
  return (
    <>
      <h2>{t('deadLetters')}</h2>
      <div class="grid2">
        <section class="card">
          <h3>{t('byReason')}</h3>
          <table class="list" data-testid="dl-reasons">
            <Head cols={[t('reason'), t('total')]} />
            <tbody>
              {reasons.map((r) => (
                <tr key={r}>
                  <td>
                    <code>{r}</code>
                  </td>
                  <td>{i.number(snap.totals[r])}</td>
                </tr>
              ))}
              {reasons.length === 0 && (
                <tr>
                  <td colSpan={2}>{t('none')}</td>
                </tr>
              )}
            </tbody>
          </table>
          <h3>{t('source')}</h3>
          {snap.minutes.length === 0 && <p class="muted">{t('none')}</p>}
          <ul>
            {Object.entries(
              snap.minutes.reduce<Record<string, number>>((acc, m) => {
                for (const [s, n] of Object.entries(m.bySource)) acc[s] = (acc[s] ?? 0) + n;
                return acc;
              }, {}),
            ).map(([s, n]) => (
              <li key={s}>
                <code>{s}</code>: {n}
              </li>
            ))}
          </ul>
        </section>
        <section class="card">
          <h3>{t('overTime')}</h3>
          {reasons.length === 0 ? <p class="muted">{t('none')}</p> : <TimeChart
            label={`${t('overTime')}: ${reasons.map((r) => `${r} ${snap.totals[r]}`).join(', ')}`}
            series={reasons.map((r, n) => ({ label: r, colour: COLOURS[n % COLOURS.length] }))}
            data={[times, ...reasons.map((r) => slots.map((m) => byMinute.get(m)?.byReason[r] ?? 0))]}
          />}
        </section>
      </div>
      <section class="card">
        <h3>{t('latest')}</h3>
        {!snap.recordsShown || session.role === 'viewer' ? (
          <p class="muted">{t('recordsOperator')}</p>
        ) : (
          <div class="scroll">
            <table class="list" data-testid="dl-latest">
              <Head cols={[t('time'), t('reason'), t('topic'), t('detail'), t('payload')]} />
              <tbody>
                {snap.latest.length === 0 && (
                  <tr>
                    <td colSpan={5}>{t('none')}</td>
                  </tr>
                )}
                {snap.latest.map((l, n) => (
                  <tr key={n}>
                    <td>{i.time(Date.parse(l.at))}</td>
                    <td>
                      <code>{l.reason}</code>
                    </td>
                    <td>
                      <code>{l.topic}</code>
                    </td>
                    <td>{l.detail}</td>
                    <td>
                      <code class="payload">{l.payload.length > 160 ? `${l.payload.slice(0, 160)}…` : l.payload}</code> <small>({l.payloadSize} B)</small>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
