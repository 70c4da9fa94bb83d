import { useState } from 'preact/hooks';
import { TimeChart } from '../chart.js';
import { useI18n } from '../i18n.js';
import { bytes, duration, Head, useApi } from '../util.js';

interface MetricPlan {
  metric: string;
  unit: string;
  current: number;
  atHorizon: number;
  interval: { level: number; low: number; high: number };
  limit: number;
  exhaustedAt: number | null;
  daysLeft: number | null;
  actual: [number, number][];
  forecast: [number, number][];
}
interface Plan {
  generatedAt: number;
  enoughHistory: boolean;
  minHistoryMs: number;
  historyMs: number;
  horizonMs: number;
  regions: { region: string; metrics: MetricPlan[]; recommendation: { instances: number; gateways: number; partitions: number; storageBytes: number; cpuCores: number; actions: string[] } }[];
}

const HORIZONS = ['30d', '90d', '365d'];

/** A metric's value in its unit (bytes shown as KiB/MiB/GiB). */
const show = (m: MetricPlan, v: number, n: (x: number, d?: number) => string) => (m.unit === 'bytes' ? bytes(v) : `${n(v, v < 10 ? 2 : 0)} ${m.unit}`);

/** The capacity plan: per division, each metric's history and forecast with its limit, prediction interval and exhaustion date. */
export function CapacityPage() {
  const i = useI18n();
  const { t } = i;
  const [horizon, setHorizon] = useState('365d');
  const [plan, error] = useApi<Plan>(`/capacity?horizon=${horizon}&series=true`);
  return (
    <>
      <h2>{t('capacity')}</h2>
      <label>
        {t('horizon')}{' '}
        <select value={horizon} onChange={(e) => setHorizon(e.currentTarget.value)}>
          {HORIZONS.map((h) => (
            <option key={h} value={h}>
              {h}
            </option>
          ))}
        </select>
      </label>
      {error && (
        <p class="bad" role="alert">
          {error}
        </p>
      )}
      {!plan && !error && <p>{t('loading')}</p>}
      {plan && !plan.enoughHistory && (
        <p class="card warn" data-testid="not-enough">
          {t('notEnoughHistory')} — {t('historyHave')}: {duration(plan.historyMs, i.lang)}; {t('historyNeed')}: {duration(plan.minHistoryMs, i.lang)}
        </p>
      )}
      {plan?.regions.map((r) => (
        <section class="card" key={r.region}>
          <h3>{i.region(r.region)}</h3>
          <div class="scroll">
            <table class="list">
              <Head cols={[t('metric'), t('current'), t('atHorizon'), t('interval'), t('limit'), t('exhaustedAt')]} />
              <tbody>
                {r.metrics.map((m) => (
                  <tr key={m.metric}>
                    <td>{i.metric(m.metric)}</td>
                    <td>{show(m, m.current, i.number)}</td>
                    <td>{plan.enoughHistory ? show(m, m.atHorizon, i.number) : '—'}</td>
                    <td>{plan.enoughHistory ? `${Math.round(m.interval.level * 100)} %: ${show(m, m.interval.low, i.number)} – ${show(m, m.interval.high, i.number)}` : '—'}</td>
                    <td>{show(m, m.limit, i.number)}</td>
                    <td>{m.exhaustedAt ? <span class="bad">{i.time(m.exhaustedAt)}</span> : plan.enoughHistory ? t('neverRunsOut') : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {plan.enoughHistory && (
            <div class="grid2">
              {r.metrics
                .filter((m) => m.actual?.length)
                .map((m) => (
                  <MetricChart key={m.metric} region={i.region(r.region)} name={i.metric(m.metric)} m={m} />
                ))}
            </div>
          )}
          {plan.enoughHistory && r.recommendation.actions.length > 0 && (
            <ul>
              {r.recommendation.actions.map((a, n) => (
                <li key={n}>{a}</li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </>
  );
}

function MetricChart({ region, name, m }: { region: string; name: string; m: MetricPlan }) {
  const { t } = useI18n();
  // One time axis: history, then forecast; each series null where it has no value.
  const times = [...m.actual.map(([x]) => x), ...m.forecast.map(([x]) => x)];
  const data = [times.map((x) => x / 1000), [...m.actual.map(([, y]) => y), ...m.forecast.map(() => null)], [...m.actual.map(() => null), ...m.forecast.map(([, y]) => y)], times.map(() => m.limit)];
  return (
    <div>
      <h4>
        {name} ({m.unit})
      </h4>
      <TimeChart
        label={`${region} ${name}`}
        series={[
          { label: t('history'), colour: '#1565c0' },
          { label: t('forecast'), colour: '#ef6c00', dashed: true },
          { label: t('limit'), colour: '#c62828' },
        ]}
        data={data}
        height={200}
      />
    </div>
  );
}
