/**
 * History-API routing under /ui: the path picks the page, the query string holds its filters. Small on
 * purpose (one hook, one link, one navigate) — the pages read their own query.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/ui';

export interface Location {
  /** The path below /ui, always starting with `/` (`/alerts/abc`). */
  path: string;
  /** The query string, without `?`. */
  search: string;
}

const listeners = new Set<() => void>();

function current(): Location {
  const p = window.location.pathname;
  const path = p === BASE || p === `${BASE}/` ? '/' : p.startsWith(`${BASE}/`) ? p.slice(BASE.length) : p;
  return { path, search: window.location.search.replace(/^\?/, '') };
}

window.addEventListener('popstate', () => listeners.forEach((l) => l()));

/** Goes to a console URL (`/ui/alerts?...`) without reloading. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const before = window.location.pathname;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  listeners.forEach((l) => l());
  if (window.location.pathname !== before) {
    // Another page: start at its top, with focus there (a screen reader reads the new page). A new
    // query on the same page (filters applied) leaves focus where it was.
    window.scrollTo(0, 0);
    document.getElementById('main')?.focus({ preventScroll: true });
  }
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** `/ui` + path: the href of a console page. */
export function href(path: string, query?: string | URLSearchParams): string {
  const q = query === undefined ? '' : String(query);
  return `${BASE}${path}${q ? `?${q}` : ''}`;
}

interface LinkProps {
  href: string;
  class?: string;
  title?: string;
  'data-testid'?: string;
  'aria-current'?: 'page' | undefined;
  children?: ComponentChildren;
}

/** An ordinary link (opens in a new tab, copies) that navigates in place on a plain click. */
export function Link({ href: to, ...rest }: LinkProps) {
  return (
    <a
      {...rest}
      href={to}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    />
  );
}
