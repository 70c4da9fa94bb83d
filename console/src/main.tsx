import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, followEvents, saveToken, savedToken, type Overview, type Session } from './api.js';
import { I18nContext, makeI18n, type Lang } from './i18n.js';
import { CapacityPage } from './pages/capacity.js';
import { DeadLettersPage } from './pages/deadletters.js';
import { DevicesPage } from './pages/devices.js';
import { IncidentsPage } from './pages/incidents.js';
import { OverviewPage, ratePerSecond, type RatePoint } from './pages/overview.js';
import { SignIn } from './pages/sign-in.js';
import { SubscriptionsPage } from './pages/subscriptions.js';
import './style.css';

type Page = 'overview' | 'incidents' | 'subscriptions' | 'deadletters' | 'devices' | 'capacity';
const PAGES: Page[] = ['overview', 'incidents', 'subscriptions', 'deadletters', 'devices', 'capacity'];
const LABEL = { overview: 'overview', incidents: 'incidents', subscriptions: 'subscriptions', deadletters: 'deadLetters', devices: 'devices', capacity: 'capacity' } as const;
/** Samples of the message rate kept for the overview's chart (one a second: five minutes). */
const RATE_SAMPLES = 300;

const pageOf = (hash: string): Page => {
  const p = hash.replace(/^#\/?/, '').split('?')[0] as Page;
  return PAGES.includes(p) ? p : 'overview';
};

function App() {
  const [lang, setLang] = useState<Lang>((localStorage.getItem('jl.lang') as Lang | null) ?? 'zh');
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(savedToken() !== '');
  const [page, setPage] = useState<Page>(pageOf(location.hash));
  const [divisions, setDivisions] = useState(new Map<string, string>());
  const [overview, setOverview] = useState<Overview | null>(null);
  const [rates, setRates] = useState<RatePoint[]>([]);
  const [connected, setConnected] = useState(false);
  // Without the live stream (refused, busy, proxy), pages still refresh: every 10 s.
  const [poll, setPoll] = useState(0);
  useEffect(() => {
    if (!session || connected) return;
    const timer = setInterval(() => setPoll((n) => n + 1), 10_000);
    return () => clearInterval(timer);
  }, [session, connected]);
  const i18n = useMemo(() => makeI18n(lang, divisions), [lang, divisions]);
  const onOverview = (o: Overview) => {
    setOverview(o);
    setRates((prev) => {
      const last = prev.at(-1);
      const received = o.stats.totals?.received ?? 0;
      const rate = last ? ratePerSecond(last, { at: o.at, received }) : null;
      return [...prev.slice(-(RATE_SAMPLES - 1)), { at: o.at, received, rate }];
    });
  };
  // The overview too, by asking for it.
  useEffect(() => {
    if (session && !connected && poll > 0) api<Overview>('/overview').then(onOverview, () => {});
  }, [poll]);

  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = i18n.t('title');
    localStorage.setItem('jl.lang', lang);
  }, [lang, i18n]);
  useEffect(() => {
    const on = () => setPage(pageOf(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  // A saved token (this tab) signs in again after a reload.
  useEffect(() => {
    if (!savedToken()) return;
    api<Session>('/session')
      .then(setSession, () => saveToken(''))
      .finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    if (!session) return;
    api<{ divisions: { code: string; name: string }[] }>('/catalogue').then((c) => setDivisions(new Map(c.divisions.map((d) => [d.code, d.name]))), () => {});
    return followEvents(onOverview, (history) => setRates(history.map((h, n) => ({ ...h, rate: n === 0 ? null : ratePerSecond(history[n - 1], h) }))), setConnected, signOut);
  }, [session]);

  const signIn = async (token: string) => {
    const s = await api<Session>('/session', { token });
    saveToken(token);
    setSession(s);
  };
  function signOut() {
    saveToken('');
    setSession(null);
    setOverview(null);
    setRates([]);
  }
  const { t } = i18n;
  const offered = (p: Page): boolean => {
    const f = session?.features;
    if (!f) return false;
    if (p === 'subscriptions') return session.role === 'admin' && f.incidents;
    return p === 'overview' || (p === 'incidents' && f.incidents) || (p === 'deadletters' && f.deadLetters) || (p === 'devices' && f.devices) || (p === 'capacity' && f.capacity);
  };
  const visible = PAGES.filter(offered);

  return (
    <I18nContext.Provider value={i18n}>
      <a class="skip" href="#main">
        {t('skip')}
      </a>
      <header class="top">
        <h1>{t('title')}</h1>
        <div class="top-right">
          {session && (
            <span class={connected ? 'conn on' : 'conn off'} role="status">
              {connected ? t('live') : t('offline')}
            </span>
          )}
          {session && (
            <span class="who" data-testid="who">
              {session.name} · {t(`role_${session.role}`)}
            </span>
          )}
          <button type="button" class="lang" aria-label={t('languageLabel')} onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')}>
            {t('language')}
          </button>
          {session && (
            <button type="button" onClick={signOut}>
              {t('signOut')}
            </button>
          )}
        </div>
      </header>
      {session && (
        <nav aria-label={t('title')}>
          <ul>
            {visible.map((p) => (
              <li key={p}>
                <a href={`#/${p}`} aria-current={p === page ? 'page' : undefined}>
                  {t(LABEL[p])}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      <main id="main">
        {checking ? (
          <p>{t('loading')}</p>
        ) : !session ? (
          <SignIn onSignIn={signIn} />
        ) : !offered(page) ? (
          <p class="muted">{t('notOffered')}</p>
        ) : page === 'overview' ? (
          <OverviewPage overview={overview} rates={rates} />
        ) : page === 'incidents' ? (
          <IncidentsPage session={session} version={`${overview?.incidents.version ?? ''}:${poll}`} />
        ) : page === 'subscriptions' ? (
          <SubscriptionsPage delivery={session.features.delivery} />
        ) : page === 'deadletters' ? (
          <DeadLettersPage session={session} tick={`${overview?.stats.totals?.deadLettered ?? 0}:${poll}`} />
        ) : page === 'devices' ? (
          <DevicesPage />
        ) : (
          <CapacityPage />
        )}
      </main>
    </I18nContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
