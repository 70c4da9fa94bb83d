import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { useI18n } from '../i18n.js';
import { errorText, useApi } from '../util.js';
import { PREFECTURES } from './overview.js';

interface Subscription {
  id: string;
  name: string;
  filters: { sectors?: string[]; regions?: string[]; categories?: string[]; minLevel: number };
  clearance: 'general' | 'important' | 'core';
  events: string[];
  channel: { type: 'webhook'; url: string; secret: string } | { type: 'mqtt'; topicPrefix?: string };
}
interface Delivery {
  pending: number;
  retrying: number;
  delivered: number;
  checkpoints: number;
  dropped: number;
  lastDeliveredAt: number | null;
  lastError: string | null;
}

interface Draft {
  id?: string;
  name: string;
  type: 'webhook' | 'mqtt';
  url: string;
  secret: string;
  topicPrefix: string;
  minLevel: number;
  clearance: Subscription['clearance'];
  sectors: string[];
  regions: string[];
  /** Kept as they are: the form does not edit them (the API does). */
  events?: string[];
  categories?: string[];
}

const EMPTY: Draft = { name: '', type: 'webhook', url: '', secret: '', topicPrefix: 'jl/alerts', minLevel: 4, clearance: 'general', sectors: [], regions: [] };
const SECTORS = ['agri', 'v2x', 'energy', 'iiot'];

/** Alert subscriptions (admin): list with delivery status, create, edit, delete, send a test alert. */
export function SubscriptionsPage({ delivery }: { delivery: boolean }) {
  const i = useI18n();
  const { t } = i;
  const [changed, setChanged] = useState(0);
  const [subs, error] = useApi<Subscription[]>('/subscriptions', changed);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [message, setMessage] = useState('');
  const [failure, setFailure] = useState('');
  const done = (text = '') => {
    setMessage(text);
    setFailure('');
    setChanged(changed + 1);
  };
  const fail = (e: unknown) => setFailure(errorText(e, t));
  const edit = (s: Subscription) =>
    setDraft({
      id: s.id,
      name: s.name,
      type: s.channel.type,
      // A URL shown masked cannot be saved back: it must be entered again.
      url: s.channel.type === 'webhook' && !s.channel.url.includes('***') ? s.channel.url : '',
      secret: '',
      topicPrefix: s.channel.type === 'mqtt' ? (s.channel.topicPrefix ?? 'jl/alerts') : 'jl/alerts',
      minLevel: s.filters.minLevel,
      clearance: s.clearance,
      sectors: s.filters.sectors ?? [],
      regions: s.filters.regions ?? [],
      events: s.events,
      categories: s.filters.categories,
    });
  return (
    <>
      <h2>{t('subscriptions')}</h2>
      {error && (
        <p class="bad" role="alert">
          {error}
        </p>
      )}
      {failure && (
        <p class="bad" role="alert">
          {failure}
        </p>
      )}
      {message && (
        <p class="ok" role="status">
          {message}
        </p>
      )}
      <p>
        <button type="button" class="primary" onClick={() => setDraft({ ...EMPTY })}>
          {t('newSubscription')}
        </button>
      </p>
      {draft && <SubscriptionForm draft={draft} onCancel={() => setDraft(null)} onSaved={() => (setDraft(null), done())} onError={fail} />}
      {subs && subs.length === 0 && <p class="muted">{t('noSubscriptions')}</p>}
      {subs && subs.length > 0 && (
        <div class="scroll">
          <table class="list" data-testid="subscriptions">
            <caption class="sr">{t('subscriptions')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('name')}</th>
                <th scope="col">{t('channel')}</th>
                <th scope="col">{t('minLevel')}</th>
                <th scope="col">{t('clearanceCol')}</th>
                <th scope="col">{t('delivery')}</th>
                <th scope="col">
                  <span class="sr">{t('edit')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {subs.map((s) => (
                <tr key={s.id} data-subscription={s.name}>
                  <td>{s.name}</td>
                  <td>
                    <code>{s.channel.type === 'webhook' ? s.channel.url : `mqtt ${s.channel.topicPrefix ?? 'jl/alerts'}`}</code>
                  </td>
                  <td>{i.level(s.filters.minLevel)}</td>
                  <td>{i.grade(s.clearance)}</td>
                  <td>{delivery ? <DeliveryStatus id={s.id} refresh={changed} /> : '—'}</td>
                  <td class="buttons">
                    {delivery && (
                      <button type="button" onClick={() => void api<{ alertId: string }>(`/subscriptions/${s.id}/test`, { method: 'POST' }).then(() => done(t('testSent')), fail)}>
                        {t('sendTest')}
                      </button>
                    )}
                    <button type="button" onClick={() => edit(s)}>
                      {t('edit')}
                    </button>
                    <button type="button" class="danger" onClick={() => {
                        if (confirm(`${t('delete')} ${s.name}?`)) void api(`/subscriptions/${s.id}`, { method: 'DELETE' }).then(() => done(), fail);
                      }}>
                      {t('delete')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Delivery status of one subscription, polled every 2 s (the outbox changes without incidents changing). */
function DeliveryStatus({ id, refresh }: { id: string; refresh: number }) {
  const { t, time } = useI18n();
  const [tick, setTick] = useState(0);
  const [d, error] = useApi<Delivery>(`/subscriptions/${id}/delivery`, `${refresh}:${tick}`);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 2000);
    return () => clearInterval(timer);
  }, []);
  if (!d) return error ? <span class="bad">{error}</span> : <span class="muted">…</span>;
  return (
    <span data-testid="delivery">
      {t('pending')} {d.pending} · {t('retrying')} {d.retrying} · {t('delivered')} {d.delivered} · {t('dropped')} {d.dropped} · {t('checkpoints')} {d.checkpoints}
      {d.lastDeliveredAt ? ` · ${time(d.lastDeliveredAt)}` : ''}
      {d.lastError && (
        <>
          <br />
          <small class="bad">
            {t('lastError')}: {d.lastError}
          </small>
        </>
      )}
    </span>
  );
}

function SubscriptionForm({ draft, onCancel, onSaved, onError }: { draft: Draft; onCancel: () => void; onSaved: () => void; onError: (e: unknown) => void }) {
  const i = useI18n();
  const { t } = i;
  const [d, setD] = useState(draft);
  const set = (patch: Partial<Draft>) => setD({ ...d, ...patch });
  const submit = (e: Event) => {
    e.preventDefault();
    const body = {
      name: d.name,
      clearance: d.clearance,
      ...(d.events ? { events: d.events } : {}),
      filters: { minLevel: d.minLevel, ...(d.sectors.length ? { sectors: d.sectors } : {}), ...(d.regions.length ? { regions: d.regions } : {}), ...(d.categories ? { categories: d.categories } : {}) },
      channel: d.type === 'webhook' ? { type: 'webhook', url: d.url, secret: d.secret } : { type: 'mqtt', topicPrefix: d.topicPrefix },
    };
    api(d.id ? `/subscriptions/${d.id}` : '/subscriptions', { method: d.id ? 'PUT' : 'POST', body }).then(onSaved, onError);
  };
  return (
    <form class="card form" onSubmit={submit} aria-labelledby="sub-form-title">
      <h3 id="sub-form-title">{d.id ? t('editSubscription') : t('newSubscription')}</h3>
      <label for="sub-name">{t('name')}</label>
      <input id="sub-name" required maxLength={200} value={d.name} onInput={(e) => set({ name: e.currentTarget.value })} />
      <label for="sub-type">{t('channel')}</label>
      <select id="sub-type" value={d.type} onChange={(e) => set({ type: e.currentTarget.value as Draft['type'] })}>
        <option value="webhook">Webhook</option>
        <option value="mqtt">MQTT</option>
      </select>
      {d.type === 'webhook' ? (
        <>
          <label for="sub-url">{t('url')}</label>
          <input id="sub-url" type="url" required value={d.url} onInput={(e) => set({ url: e.currentTarget.value })} />
          <label for="sub-secret">{t('secret')}</label>
          <input id="sub-secret" type="password" autocomplete="new-password" required minLength={16} value={d.secret} onInput={(e) => set({ secret: e.currentTarget.value })} />
          {d.id && <p class="help">{t('secretKeep')}</p>}
        </>
      ) : (
        <>
          <label for="sub-topic">{t('topicPrefix')}</label>
          <input id="sub-topic" value={d.topicPrefix} onInput={(e) => set({ topicPrefix: e.currentTarget.value })} />
        </>
      )}
      <label for="sub-level">{t('minLevel')}</label>
      <select id="sub-level" value={String(d.minLevel)} onChange={(e) => set({ minLevel: Number(e.currentTarget.value) })}>
        {[4, 3, 2, 1].map((l) => (
          <option key={l} value={l}>
            {i.level(l)}
          </option>
        ))}
      </select>
      <label for="sub-clearance">{t('clearanceCol')}</label>
      <select id="sub-clearance" value={d.clearance} onChange={(e) => set({ clearance: e.currentTarget.value as Draft['clearance'] })}>
        {(['general', 'important', 'core'] as const).map((g) => (
          <option key={g} value={g}>
            {i.grade(g)}
          </option>
        ))}
      </select>
      <fieldset>
        <legend>{t('sector')}</legend>
        {SECTORS.map((s) => (
          <label key={s} class="inline">
            <input type="checkbox" checked={d.sectors.includes(s)} onChange={(e) => set({ sectors: e.currentTarget.checked ? [...d.sectors, s] : d.sectors.filter((x) => x !== s) })} /> {i.sector(s)}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>{t('region')}</legend>
        {/* Counties the API set are kept and shown too. */}
        {[...PREFECTURES, ...d.regions.filter((r) => !PREFECTURES.includes(r))].map((r) => (
          <label key={r} class="inline">
            <input type="checkbox" checked={d.regions.includes(r)} onChange={(e) => set({ regions: e.currentTarget.checked ? [...d.regions, r] : d.regions.filter((x) => x !== r) })} /> {i.region(r)}
          </label>
        ))}
      </fieldset>
      <div class="buttons">
        <button type="submit" class="primary">
          {t('save')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('cancel')}
        </button>
      </div>
    </form>
  );
}
