import { useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useI18n } from '../i18n.js';

/** Sign-in with an API token; the role it carries decides what the console shows. */
export function SignIn({ onSignIn }: { onSignIn: (token: string) => Promise<void> }) {
  const { t } = useI18n();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    setError('');
    onSignIn(token.trim()).catch((err: unknown) => setError(err instanceof ApiError && err.status === 401 ? t('badToken') : `${t('error')}: ${(err as Error).message}`));
  };
  return (
    <section class="card signin">
      <h2>{t('signIn')}</h2>
      <form onSubmit={submit}>
        <label for="token">{t('token')}</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <p class="help">{t('tokenHelp')}</p>
        <button type="submit" class="primary">
          {t('signIn')}
        </button>
        {error && (
          <p class="bad" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
