import type { CommandRegistrar } from '../main';
import { matcherString, parseMatchers, toApiMatcher, fromApiMatcher, type ApiMatcher, type Matcher } from '../../alert/matcher';
import { parseDuration } from '../../config/duration';

interface ApiOptions {
  url: string;
  token?: string;
}

interface ListedSilence {
  id: string;
  matchers: ApiMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: string };
}

async function api(opts: ApiOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, opts.url.endsWith('/') ? opts.url : `${opts.url}/`), {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as { message?: string }) : {};
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${parsed.message ?? text}`);
  return parsed;
}

function matchersOf(args: string[]): Matcher[] {
  return args.flatMap((a) => parseMatchers(a));
}

function same(a: Matcher, b: Matcher): boolean {
  return a.name === b.name && a.type === b.type && a.value === b.value;
}

const apiOptions = (cmd: import('commander').Command) =>
  cmd
    .option('--url <url>', 'Falconer API URL (default: $FALCONER_URL or http://127.0.0.1:2804)')
    .option('--token <token>', 'API bearer token (default: $FALCONER_TOKEN)');

function connection(opts: { url?: string; token?: string }): ApiOptions {
  const token = opts.token ?? process.env.FALCONER_TOKEN;
  return { url: opts.url ?? process.env.FALCONER_URL ?? 'http://127.0.0.1:2804', ...(token ? { token } : {}) };
}

/** `falconer silence add|query|expire`, like amtool's, against a running Falconer. */
export const registerSilence: CommandRegistrar = (program, exit) => {
  const silence = program.command('silence').description('add, query and expire silences (like amtool silence)');

  apiOptions(
    silence
      .command('add')
      .description('silence alerts matching all MATCHERS (name=value, name=~regex, ...); prints the silence id')
      .argument('<matchers...>', 'Alertmanager matchers')
      .option('-d, --duration <duration>', 'how long, e.g. 1h, 30m, 2d', '1h')
      .option('--start <time>', 'RFC 3339 start (default: now)')
      .option('--end <time>', 'RFC 3339 end (wins over --duration)')
      .option('-a, --author <name>', 'who creates it (default: $USER)')
      .requiredOption('-c, --comment <text>', 'why'),
  ).action(
    async (
      args: string[],
      opts: { duration: string; start?: string; end?: string; author?: string; comment: string; url?: string; token?: string },
    ) => {
      try {
        const matchers = matchersOf(args).map(toApiMatcher);
        const start = opts.start ? Date.parse(opts.start) : Date.now();
        const ms = parseDuration(opts.duration);
        if (!opts.end && ms === undefined) throw new Error(`invalid duration ${JSON.stringify(opts.duration)}`);
        const endsAt = opts.end ?? new Date(start + ms!).toISOString();
        const body = {
          matchers,
          ...(opts.start ? { startsAt: opts.start } : {}),
          endsAt,
          createdBy: opts.author ?? process.env.USER ?? 'falconer-cli',
          comment: opts.comment,
        };
        const { silenceID } = (await api(connection(opts), 'POST', 'v1/silences', body)) as { silenceID: string };
        process.stdout.write(`${silenceID}\n`);
        exit(0);
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        exit(1);
      }
    },
  );

  apiOptions(
    silence
      .command('query')
      .description('list silences (active and pending; --expired for expired ones) that have all the given matchers')
      .argument('[matchers...]', 'only silences with these matchers')
      .option('--expired', 'show expired silences instead')
      .option('-q, --quiet', 'print only the ids'),
  ).action(async (args: string[], opts: { expired?: boolean; quiet?: boolean; url?: string; token?: string }) => {
    try {
      const filter = matchersOf(args);
      const { silences } = (await api(connection(opts), 'GET', 'v1/silences')) as { silences: ListedSilence[] };
      const shown = silences.filter(
        (s) =>
          (opts.expired ? s.status.state === 'expired' : s.status.state !== 'expired') &&
          filter.every((f) => s.matchers.some((m) => same(fromApiMatcher(m), f))),
      );
      if (opts.quiet) {
        for (const s of shown) process.stdout.write(`${s.id}\n`);
        return exit(0);
      }
      const rows = [
        ['ID', 'Matchers', 'Ends At', 'Created By', 'Comment'],
        ...shown.map((s) => [
          s.id,
          s.matchers.map((m) => matcherString(fromApiMatcher(m))).join(' '),
          s.endsAt,
          s.createdBy,
          s.comment,
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        process.stdout.write(`${r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join('  ')}\n`);
      exit(0);
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      exit(1);
    }
  });

  apiOptions(silence.command('expire').description('expire silences by id').argument('<ids...>', 'silence ids')).action(
    async (ids: string[], opts: { url?: string; token?: string }) => {
      let failed = false;
      for (const id of ids) {
        try {
          await api(connection(opts), 'DELETE', `v1/silences/${encodeURIComponent(id)}`);
        } catch (err) {
          failed = true;
          process.stderr.write(`${(err as Error).message}\n`);
        }
      }
      exit(failed ? 1 : 0);
    },
  );
};
