import { useEffect, useState } from 'preact/hooks';
import { errorText, session as sessionApi, setCsrf, setOnUnauthorized } from './api';
import { BASE, href, Link, navigate, useLocation } from './router';
import type { Session } from './types';
import { AlertsPage } from './pages/alerts';
import { AlertDetailPage } from './pages/alert-detail';
import { ChartsPage } from './pages/charts';
import { IncidentDetailPage, IncidentsPage } from './pages/incidents';
import { NetworkPage } from './pages/network';
import { PosturePage } from './pages/posture';
import { NewSilencePage, SilencesPage } from './pages/silences';
import { SignInPage } from './pages/signin';

const NAV: { path: string; label: string; testid: string }[] = [
  { path: '/alerts', label: 'Alerts', testid: 'nav-alerts' },
  { path: '/incidents', label: 'Incidents', testid: 'nav-incidents' },
  { path: '/charts', label: 'Charts', testid: 'nav-charts' },
  { path: '/silences', label: 'Silences', testid: 'nav-silences' },
  { path: '/posture', label: 'Posture', testid: 'nav-posture' },
  { path: '/network', label: 'Network', testid: 'nav-network' },
];

type SessionState =
  { status: 'checking' } | { status: 'signed-out'; notice?: string } | { status: 'signed-in'; session: Session };

export function App() {
  const [state, setState] = useState<SessionState>({ status: 'checking' });
  const loc = useLocation();

  useEffect(() => {
    setOnUnauthorized(() => {
      setCsrf(undefined);
      setState({ status: 'signed-out', notice: 'Your session has ended; sign in again.' });
    });
    sessionApi.get().then(
      (s) => {
        setCsrf(s.csrf);
        setState({ status: 'signed-in', session: s });
      },
      () => setState({ status: 'signed-out' }),
    );
  }, []);

  useEffect(() => {
    if (state.status === 'signed-in' && loc.path === '/') navigate(href('/alerts'), { replace: true });
  }, [state.status, loc.path]);

  // Each page its own title (browser tabs, history, screen readers).
  useEffect(() => {
    document.title = `${state.status === 'signed-out' ? 'Sign in' : pageTitle(loc.path)} · Falconer`;
  }, [state.status, loc.path]);

  if (state.status === 'checking') {
    return (
      <main id="main" class="page">
        <p class="muted" role="status">
          Loading…
        </p>
      </main>
    );
  }
  if (state.status === 'signed-out') {
    return (
      <SignInPage
        notice={state.notice}
        onSignedIn={(s) => {
          setCsrf(s.csrf);
          setState({ status: 'signed-in', session: s });
        }}
      />
    );
  }
  const { session } = state;
  const logout = async () => {
    try {
      await sessionApi.signOut();
    } catch (err) {
      // The session may be gone already; the page forgets it either way.
      console.warn('logout:', errorText(err));
    }
    setCsrf(undefined);
    setState({ status: 'signed-out' });
    navigate(`${BASE}/`);
  };

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href={href('/alerts')} class="brand">
          Falconer
        </Link>
        <nav aria-label="Console">
          <ul>
            {NAV.map((n) => (
              <li key={n.path}>
                <Link
                  href={href(n.path)}
                  data-testid={n.testid}
                  aria-current={loc.path === n.path || loc.path.startsWith(`${n.path}/`) ? 'page' : undefined}
                >
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="whoami" title={`scopes: ${session.scopes.join(', ')}`}>
            {session.name}
          </span>
          <button type="button" class="secondary" data-testid="logout" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        <Page path={loc.path} search={loc.search} session={session} />
      </main>
    </>
  );
}

function pageTitle(path: string): string {
  const [head, id] = path.split('/').filter(Boolean);
  if (head === 'alerts' && id) return 'Alert';
  if (head === 'incidents' && id) return 'Incident';
  if (head === 'silences' && id === 'new') return 'New silence';
  return NAV.find((n) => n.path === `/${head ?? 'alerts'}`)?.label ?? 'Console';
}

function Page({ path, search, session }: { path: string; search: string; session: Session }) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [head, id, ...rest] = parts;
  if (rest.length === 0) {
    switch (head) {
      case undefined:
      case 'alerts':
        return id === undefined ? <AlertsPage search={search} /> : <AlertDetailPage fingerprint={id} session={session} />;
      case 'incidents':
        return id === undefined ? <IncidentsPage /> : <IncidentDetailPage id={id} />;
      case 'charts':
        if (id === undefined) return <ChartsPage search={search} />;
        break;
      case 'silences':
        if (id === undefined) return <SilencesPage session={session} />;
        if (id === 'new') return <NewSilencePage search={search} session={session} />;
        break;
      case 'posture':
        if (id === undefined) return <PosturePage />;
        break;
      case 'network':
        if (id === undefined) return <NetworkPage search={search} />;
        break;
    }
  }
  return (
    <section class="card">
      <h1>Not found</h1>
      <p>
        There is no console page at <code>{`${BASE}${path}`}</code>. <Link href={href('/alerts')}>Go to the alerts.</Link>
      </p>
    </section>
  );
}
