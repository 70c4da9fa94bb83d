import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.js';
import { FilterSelect, Head, useApi, useNow } from '../util.js';
import { PREFECTURES } from './overview.js';

interface Device {
  id: string;
  sector: string;
  region: string;
  types: string[];
  keyed: boolean;
  grade: string;
  lastSeen: number | null;
  silent: boolean;
}
interface Entry {
  code: string;
  name: string;
  alias?: string;
  sector: string;
  messageType: string;
  share: string;
  open: string;
  grade: string;
  updateCycle: string;
}

const PAGE = 50;
const SECTORS = ['agri', 'v2x', 'energy', 'iiot'];

/** The device registry (sector, region, keyed, last seen, silent) and the catalogue entries (grade, sharing, openness). */
export function DevicesPage() {
  const i = useI18n();
  const { t } = i;
  const now = useNow();
  const [refresh, setRefresh] = useState(0);
  const [devices, error] = useApi<{ total: number; online: number; items: Device[] }>('/devices', refresh);
  const [catalogue] = useApi<{ version: string; entries: Entry[] }>('/catalogue');
  const [shown, setShown] = useState(PAGE);
  const [filter, setFilter] = useState({ sector: '', region: '', state: '' });
  const items = (devices?.items ?? []).filter((d) => (!filter.sector || d.sector === filter.sector) && (!filter.region || d.region.slice(0, 4) === filter.region.slice(0, 4)) && (!filter.state || (filter.state === 'silent') === d.silent));
  const select = (k: keyof typeof filter, label: string, options: [string, string][]) => <FilterSelect label={label} value={filter[k]} options={options} onChange={(v) => (setFilter({ ...filter, [k]: v }), setShown(PAGE))} />;
  return (
    <>
      <h2>{t('devices')}</h2>
      <section class="card">
        <div class="row">
          <h3>
            {t('registry')}: {devices ? `${devices.online} ${t('online')} / ${devices.total}` : ''}
          </h3>
          <button type="button" onClick={() => setRefresh(refresh + 1)}>
            ↻
          </button>
        </div>
        {error && <p class="bad">{error}</p>}
        <form class="filters" aria-label={t('filters')} onSubmit={(e) => e.preventDefault()}>
          {select('sector', t('sector'), SECTORS.map((x) => [x, i.sector(x)]))}
          {select('region', t('region'), PREFECTURES.map((r) => [r, i.region(r)]))}
          {select('state', t('state'), [['online', t('online')], ['silent', t('silent')]])}
        </form>
        <div class="scroll">
          <table class="list" data-testid="devices">
            <Head cols={['ID', t('sector'), t('region'), t('keyed'), t('grade'), t('lastSeen'), t('state')]} />
            <tbody>
              {items.slice(0, shown).map((d) => (
                <tr key={d.id}>
                  <td>
                    <code>{d.id}</code>
                  </td>
                  <td>{i.sector(d.sector)}</td>
                  <td>{i.region(d.region)}</td>
                  <td>{d.keyed ? t('yes') : t('no')}</td>
                  <td>{i.grade(d.grade)}</td>
                  <td>{d.lastSeen ? `${i.time(d.lastSeen)} (${Math.round((now - d.lastSeen) / 1000)} s)` : t('never')}</td>
                  <td>{d.silent ? <span class="bad">▲ {t('silent')}</span> : <span class="ok">● {t('online')}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {items.length > shown && (
          <button type="button" onClick={() => setShown(shown + PAGE)}>
            +{PAGE}
          </button>
        )}
      </section>
      <section class="card">
        <h3>
          {t('catalogue')} {catalogue ? `v${catalogue.version}` : ''}
        </h3>
        <div class="scroll">
          <table class="list" data-testid="catalogue">
            <Head cols={[t('code'), t('name'), t('sector'), t('grade'), t('share'), t('openness'), t('updateCycle')]} />
            <tbody>
              {catalogue?.entries.map((e) => (
                <tr key={e.code}>
                  <td>
                    <code>{e.code}</code>
                  </td>
                  <td>
                    {i.lang === 'en' && e.alias ? e.alias : e.name}
                    <br />
                    <small>
                      {e.sector}/{e.messageType}
                    </small>
                  </td>
                  <td>{i.sector(e.sector)}</td>
                  <td>
                    <span class={`grade ${e.grade}`}>{i.grade(e.grade)}</span>
                  </td>
                  <td>{i.share(e.share)}</td>
                  <td>{i.open(e.open)}</td>
                  <td>{e.updateCycle}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
