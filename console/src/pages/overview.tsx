import type { Overview } from '../api.js';
import { TimeChart } from '../chart.js';
import { LEVEL_CLASS, useI18n } from '../i18n.js';
import { bytes, duration, Status } from '../util.js';

export interface RatePoint {
  at: number;
  received: number;
  rate: number | null;
}

/** Messages per second between two samples of the totals; never below zero (after a pipeline restart its totals start again), null without time between them. */
export const ratePerSecond = (from: { at: number; received: number }, to: { at: number; received: number }): number | null =>
  to.at > from.at ? Math.max(0, ((to.received - from.received) * 1000) / (to.at - from.at)) : null;

/** Jilin's nine prefecture-level divisions, the matrix's columns. */
export const PREFECTURES = ['220100', '220200', '220300', '220400', '220500', '220600', '220700', '220800', '222400'];
/** A county's prefecture: the same first four digits (220182 -> 220100, 222401 -> 222400). */
const prefectureOf = (code: string) => `${code.slice(0, 4)}00`;

/** Messages/s, totals, health, devices online per sector x division, open incidents by level; pushed live over /events. */
export function OverviewPage({ overview, rates }: { overview: Overview | null; rates: RatePoint[] }) {
  const i = useI18n();
  const { t } = i;
  if (!overview) return <p>{t('loading')}</p>;
  const s = overview.stats;
  const totals = s.totals ?? { received: 0, stored: 0, deadLettered: 0, inSpool: 0, nacked: 0 };
  // Over the last 10 s (one sample a second): a second alone is too noisy to read.
  const last10 = rates.slice(-11);
  const rate = (last10.length > 1 ? ratePerSecond(last10[0], last10.at(-1)!) : null) ?? 0;
  const checks = overview.ready.checks;
  const sectors = [...new Set(overview.devices?.matrix.map((c) => c.sector) ?? [])].sort();
  const cell = (sector: string, pref: string) => {
    let online = 0;
    let total = 0;
    for (const c of overview.devices?.matrix ?? []) {
      if (c.sector === sector && prefectureOf(c.region) === pref) {
        online += c.online;
        total += c.total;
      }
    }
    return { online, total };
  };
  return (
    <>
      <h2>{t('overview')}</h2>
      <section class="cards" aria-label={t('overview')}>
        <Card label={t('msgRate')} value={i.number(rate, 1)} testid="rate" />
        <Card label={t('received')} value={i.number(totals.received)} testid="received" />
        <Card label={t('stored')} value={i.number(totals.stored)} testid="stored" />
        <Card label={t('deadLettered')} value={i.number(totals.deadLettered)} testid="deadlettered" />
        <Card label={s.spool ? `${t('spool')} (${t('limit')} ${bytes(s.spool.limit)})` : t('spool')} value={s.spool ? bytes(s.spool.bytes) : t('notUsed')} testid="spool" />
        <Card label={t('ledger')} value={s.balanced === undefined ? '—' : s.balanced ? `✓ ${t('balanced')}` : `✗ ${t('unbalanced')}`} testid="ledger" />
        {s.uptimeSec !== undefined && <Card label={t('uptime')} value={duration(s.uptimeSec * 1000, i.lang)} testid="uptime" />}
      </section>
      <div class="grid2">
        <section class="card">
          <h3>{t('health')}</h3>
          <ul class="health">
            <li>
              {t('ready')}: <Status ok={overview.ready.ok} yes={t('ready')} no={t('notReady')} />
            </li>
            <li>
              {t('mqtt')}: <Status ok={s.mqtt?.connected ?? checks.mqttConnected ?? false} yes={t('up')} no={t('down')} />
            </li>
            <li>
              {t('influx')}: <Status ok={s.influx?.up ?? false} yes={`${t('up')}${s.influx?.version ? ` (${s.influx.version})` : ''}`} no={t('down')} />
            </li>
            <li>
              {t('kafka')}: {s.kafka ? <Status ok={checks.kafkaConnected ?? true} yes={t('up')} no={t('down')} /> : <span class="muted">{t('notUsed')}</span>}
            </li>
          </ul>
          <details>
            <summary>{t('details')}</summary>
            <ul class="checks">
              {Object.entries(checks).map(([k, v]) => (
                <li key={k}>
                  <code>{k}</code> <Status ok={v} yes="ok" no="fail" />
                </li>
              ))}
            </ul>
          </details>
        </section>
        <section class="card">
          <h3>{t('openByLevel')}</h3>
          <ul class="levels">
            {[1, 2, 3, 4].map((l) => (
              <li key={l} class={`level ${LEVEL_CLASS[l]}`}>
                <span class="n" data-testid={`level-${l}`}>
                  {overview.incidents.openByLevel[l] ?? 0}
                </span>
                <span>{i.level(l)}</span>
              </li>
            ))}
          </ul>
          <p>
            <a href="#/incidents">{t('incidents')} →</a>
          </p>
        </section>
      </div>
      <section class="card">
        <h3>{t('rateChart')}</h3>
        <TimeChart label={`${t('rateChart')}: ${i.number(rate, 1)}`} series={[{ label: t('msgRate'), colour: '#1565c0' }]} data={[rates.map((r) => r.at / 1000), rates.map((r) => r.rate)]} height={180} xRange={() => [overview.at / 1000 - 300, overview.at / 1000]} />
      </section>
      {overview.devices && (
        <section class="card">
          <h3>
            {t('devicesOnline')}: {overview.devices.online} / {overview.devices.total}
          </h3>
          <div class="scroll">
            <table class="matrix">
              <caption class="sr">{t('devicesOnline')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('sector')}</th>
                  {PREFECTURES.map((p) => (
                    <th scope="col" key={p}>
                      {i.region(p).replace(` ${p}`, '')}
                      <br />
                      <small>{p}</small>
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {sectors.map((sec) => (
                  <tr key={sec}>
                    <th scope="row">{i.sector(sec)}</th>
                    {PREFECTURES.map((p) => {
                      const c = cell(sec, p);
                      const cls = c.total === 0 ? 'empty' : c.online === c.total ? 'full' : c.online === 0 ? 'none' : 'part';
                      return (
                        <td key={p} class={cls}>
                          {c.total ? `${c.online}/${c.total}` : '—'}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </>
  );
}

function Card({ label, value, testid }: { label: string; value: string; testid: string }) {
  return (
    <div class="stat">
      <div class="label">{label}</div>
      <div class="value" data-testid={testid}>
        {value}
      </div>
    </div>
  );
}
