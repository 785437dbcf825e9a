import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { ErrorBox, Loading, PriorityBadge, Time } from '../components';
import { formatTime, formatWhere, matchersFromLabels } from '../format';
import { useApi, useNow } from '../hooks';
import { href, Link, navigate } from '../router';
import { buildSilence, matcherText, usableMatchers } from '../silence-form';
import type { AlertDetail, AlertRow, Matcher, Session, Silence } from '../types';

export function SilencesPage({ session }: { session: Session }) {
  const { data, error, loading, reload } = useApi<{ silences: Silence[] }>('/v1/silences');
  const [actionError, setActionError] = useState<unknown>();
  const [showExpired, setShowExpired] = useState(false);
  const now = useNow();
  const admin = session.scopes.includes('admin');
  const silences = (data?.silences ?? [])
    .filter((s) => showExpired || s.status?.state !== 'expired')
    .sort((a, b) => Date.parse(b.updatedAt) - Date.parse(a.updatedAt));

  const expire = async (id: string) => {
    setActionError(undefined);
    try {
      await api(`/v1/silences/${encodeURIComponent(id)}`, { method: 'DELETE' });
      reload();
    } catch (err) {
      setActionError(err);
    }
  };

  return (
    <>
      <div class="page-head">
        <h1>Silences</h1>
        {admin && (
          <Link href={href('/silences/new')} class="button-link" data-testid="silence-new">
            New silence
          </Link>
        )}
      </div>
      {!admin && <p class="notice">Your token has no admin scope: you can list silences, not create or expire them.</p>}
      <ErrorBox error={error ?? actionError} />
      <label class="check">
        <input type="checkbox" checked={showExpired} onChange={(e) => setShowExpired(e.currentTarget.checked)} /> Show expired
      </label>
      {loading && !data ? (
        <Loading what="silences" />
      ) : (
        <div class="table-wrap">
          <table data-testid="silence-list">
            <caption class="sr-only">Silences</caption>
            <thead>
              <tr>
                <th scope="col">State</th>
                <th scope="col">Matchers</th>
                <th scope="col">Starts</th>
                <th scope="col">Ends</th>
                <th scope="col">Created by</th>
                <th scope="col">Comment</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {silences.length === 0 && (
                <tr>
                  <td colSpan={7} class="muted">
                    No silences.
                  </td>
                </tr>
              )}
              {silences.map((s) => {
                const state = s.status?.state ?? 'active';
                return (
                  <tr key={s.id} data-testid="silence-row" data-silence-id={s.id} data-state={state}>
                    <td>
                      <span class={`status status-${state}`}>{state}</span>
                    </td>
                    <td class="where">
                      {s.matchers.map((m, i) => (
                        <div key={i}>{matcherText(m)}</div>
                      ))}
                    </td>
                    <td title={formatTime(s.startsAt)}>
                      <Time value={s.startsAt} now={now} />
                    </td>
                    <td title={formatTime(s.endsAt)}>
                      <Time value={s.endsAt} now={now} />
                    </td>
                    <td>{s.createdBy}</td>
                    <td>{s.comment}</td>
                    <td>
                      {admin && state !== 'expired' && (
                        <button
                          type="button"
                          class="danger"
                          data-testid="silence-expire"
                          onClick={() => expire(s.id)}
                          aria-label={`Expire silence ${matcherText(s.matchers[0] ?? { name: '', value: '', isRegex: false, isEqual: true })}`}
                        >
                          Expire
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

const EMPTY: Matcher = { name: '', value: '', isRegex: false, isEqual: true };

export function NewSilencePage({ search, session }: { search: string; session: Session }) {
  const fromAlert = useMemo(() => new URLSearchParams(search).get('fromAlert') ?? undefined, [search]);
  const source = useApi<AlertDetail>(fromAlert ? `/v1/console/alerts/${encodeURIComponent(fromAlert)}` : undefined);
  const [matchers, setMatchers] = useState<Matcher[]>(fromAlert ? [] : [{ ...EMPTY }]);
  const [duration, setDuration] = useState('2h');
  const [comment, setComment] = useState('');
  const [createdBy, setCreatedBy] = useState(session.name);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  // Prefill from the alert's labels once it has loaded.
  useEffect(() => {
    const alert = source.data?.alert;
    if (!alert) return;
    const labels = alert.labels ?? {
      rule: alert.rule,
      cluster: alert.event.k8s?.cluster ?? '',
      namespace: alert.event.k8s?.namespace ?? '',
      pod: alert.event.k8s?.pod ?? '',
      container: alert.event.k8s?.container ?? '',
    };
    const prefilled = matchersFromLabels(labels);
    setMatchers(prefilled.length ? prefilled : [{ ...EMPTY }]);
    setComment((c) => c || `Silenced from alert "${alert.rule}"`);
  }, [source.data]);

  const admin = session.scopes.includes('admin');
  // The preview is a POST too: Falconer asks for the admin scope.
  const preview = usePreview(admin ? matchers : []);

  const update = (i: number, change: Partial<Matcher>) =>
    setMatchers((ms) => ms.map((m, j) => (j === i ? { ...m, ...change } : m)));

  const submit = async (e: Event) => {
    e.preventDefault();
    const built = buildSilence({ matchers, duration, comment, createdBy }, Date.now());
    if ('error' in built) {
      setError(built.error);
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api<{ silenceID: string }>('/v1/silences', { method: 'POST', body: built.silence });
      navigate(href('/silences'));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="page-head">
        <h1>New silence</h1>
      </div>
      {!admin && (
        <p class="notice">Your token has no admin scope: Falconer will refuse to create this silence (and to preview it).</p>
      )}
      {fromAlert && source.error ? <ErrorBox error={source.error} /> : null}
      {fromAlert && source.data && (
        <p class="muted">
          From the alert <Link href={href(`/alerts/${encodeURIComponent(fromAlert)}`)}>{source.data.alert.rule}</Link>
          {source.data.alert.event.k8s ? ` in ${formatWhere(source.data.alert.event.k8s)}` : ''}.
        </p>
      )}
      <form class="card" data-testid="silence-form" onSubmit={submit} aria-label="New silence" noValidate>
        <fieldset>
          <legend>Matchers (all must match)</legend>
          {fromAlert && source.loading && <Loading what="the alert's labels" />}
          {matchers.map((m, i) => (
            <div class="matcher-row" data-testid="matcher-row" key={i}>
              <div class="field">
                <label for={`matcher-name-${i}`}>Label</label>
                <input
                  id={`matcher-name-${i}`}
                  data-testid="matcher-name"
                  type="text"
                  value={m.name}
                  spellcheck={false}
                  onInput={(e) => update(i, { name: e.currentTarget.value })}
                />
              </div>
              <div class="field">
                <label for={`matcher-value-${i}`}>Value</label>
                <input
                  id={`matcher-value-${i}`}
                  data-testid="matcher-value"
                  type="text"
                  value={m.value}
                  spellcheck={false}
                  onInput={(e) => update(i, { value: e.currentTarget.value })}
                />
              </div>
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="matcher-regex"
                  checked={m.isRegex}
                  onChange={(e) => update(i, { isRegex: e.currentTarget.checked })}
                />{' '}
                regex
              </label>
              <label class="check">
                <input
                  type="checkbox"
                  data-testid="matcher-equal"
                  checked={m.isEqual}
                  onChange={(e) => update(i, { isEqual: e.currentTarget.checked })}
                />{' '}
                equal
              </label>
              <button
                type="button"
                class="secondary"
                data-testid="matcher-remove"
                aria-label={`Remove matcher ${i + 1}`}
                onClick={() => setMatchers((ms) => ms.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </div>
          ))}
          <button
            type="button"
            class="secondary"
            data-testid="matcher-add"
            onClick={() => setMatchers((ms) => [...ms, { ...EMPTY }])}
          >
            Add matcher
          </button>
        </fieldset>
        <div class="form-grid">
          <div class="field">
            <label for="silence-duration">Duration (e.g. 2h, 90m, 1d)</label>
            <input
              id="silence-duration"
              data-testid="silence-duration"
              type="text"
              value={duration}
              onInput={(e) => setDuration(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="silence-created-by">Created by</label>
            <input
              id="silence-created-by"
              data-testid="silence-created-by"
              type="text"
              value={createdBy}
              onInput={(e) => setCreatedBy(e.currentTarget.value)}
            />
          </div>
        </div>
        <div class="field">
          <label for="silence-comment">Comment</label>
          <textarea
            id="silence-comment"
            data-testid="silence-comment"
            value={comment}
            onInput={(e) => setComment(e.currentTarget.value)}
          />
        </div>
        {error && (
          <p class="error" role="alert" data-testid="silence-error">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" data-testid="silence-submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create silence'}
          </button>
          <Link href={href('/silences')}>Cancel</Link>
        </div>
      </form>
      <section class="card" aria-labelledby="preview-title">
        <h2 id="preview-title">Would silence now</h2>
        <p class="muted small" aria-live="polite">
          {preview.error
            ? errorText(preview.error)
            : preview.loading
              ? 'Checking…'
              : preview.total === undefined
                ? 'Add a matcher to see which stored alerts it matches.'
                : `${preview.total} stored alert${preview.total === 1 ? ' matches' : 's match'}.`}
        </p>
        <ul class="plain preview" data-testid="silence-preview">
          {preview.items.map((r) => (
            <li key={r.fingerprint} data-testid="preview-row" data-fingerprint={r.fingerprint}>
              <PriorityBadge priority={r.priority} /> {r.rule} <code>{formatWhere(r)}</code>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

/** What the matchers would silence among the stored alerts, asked again 300 ms after the last change. */
function usePreview(matchers: Matcher[]) {
  const usable = usableMatchers(matchers);
  const key = JSON.stringify(usable);
  const [state, setState] = useState<{ items: AlertRow[]; total?: number; loading: boolean; error?: unknown }>({
    items: [],
    loading: false,
  });
  useEffect(() => {
    if (usable.length === 0) {
      setState({ items: [], loading: false });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    const t = setTimeout(() => {
      api<{ items: AlertRow[]; total: number }>('/v1/console/silences/preview', {
        method: 'POST',
        body: { matchers: usable },
        signal: ctl.signal,
      }).then(
        (r) => setState({ items: r.items, total: r.total, loading: false }),
        (error: unknown) => {
          if ((error as Error).name !== 'AbortError') setState({ items: [], loading: false, error });
        },
      );
    }, 300);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [key]);
  return state;
}
