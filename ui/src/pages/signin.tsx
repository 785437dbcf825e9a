import { useState } from 'preact/hooks';
import { ApiError, errorText, session as sessionApi } from '../api';
import type { Session } from '../types';

export function SignInPage({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const s = await sessionApi.signIn(token.trim());
      setToken('');
      onSignedIn(s);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError('That token is not known to Falconer.');
      else if (err instanceof ApiError && err.status === 403) setError('That token lacks the read scope.');
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <h1 id="signin-title">Falconer console</h1>
        <p class="muted">Sign in with an API token that has the read scope (admin to manage silences).</p>
        {notice && <p role="status">{notice}</p>}
        <label for="signin-token">API token</label>
        <input
          id="signin-token"
          data-testid="signin-token"
          type="password"
          autoComplete="current-password"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? 'signin-error' : undefined}
          required
        />
        <button type="submit" data-testid="signin-submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p id="signin-error" class="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
