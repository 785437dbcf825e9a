import type { RouteConfig } from '../config/schema';
import { parseDuration } from '../config/duration';
import { matchersString, matchesAll, newMatcher, parseMatchers, sortMatchers, type Labels, type Matcher } from './matcher';

/** Alertmanager's defaults for the root route, inherited by every node that does not set its own. */
export const ROUTE_DEFAULTS = { groupWaitMs: 30_000, groupIntervalMs: 5 * 60_000, repeatIntervalMs: 4 * 3_600_000 } as const;

/** One node of the routing tree, with what it inherited already applied. */
export interface Route {
  receiver: string;
  /** Labels a group is keyed by; ignored when `groupByAll` (`['...']`: every label, one group per alert). */
  groupBy: readonly string[];
  groupByAll: boolean;
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  /** Not inherited (as in Alertmanager): each node names its own. */
  muteTimeIntervals: readonly string[];
  activeTimeIntervals: readonly string[];
  matchers: readonly Matcher[];
  continue: boolean;
  routes: readonly Route[];
  parent: Route | undefined;
}

/**
 * Builds the tree from its configuration: children inherit the receiver, group_by and timers of their
 * parent unless they set their own. Legacy `match` / `match_re` become `=` / `=~` matchers beside the
 * `matchers` strings; a node's matchers are sorted as Alertmanager sorts them.
 */
export function buildRoute(config: RouteConfig, parent?: Route): Route {
  const ms: Matcher[] = [];
  for (const [name, value] of Object.entries(config.match ?? {})) ms.push(newMatcher('=', name, value));
  // Alertmanager keeps a match_re value anchored in its own text, so it prints (and keys) that way.
  for (const [name, value] of Object.entries(config.match_re ?? {})) ms.push(newMatcher('=~', name, `^(?:${value})$`));
  for (const text of config.matchers ?? []) ms.push(...parseMatchers(text));
  const groupBy = config.group_by;
  const route: Route = {
    receiver: config.receiver ?? parent?.receiver ?? '',
    groupBy: groupBy ? groupBy.filter((l) => l !== '...') : (parent?.groupBy ?? []),
    groupByAll: groupBy ? groupBy.includes('...') : (parent?.groupByAll ?? false),
    groupWaitMs: duration(config.group_wait) ?? parent?.groupWaitMs ?? ROUTE_DEFAULTS.groupWaitMs,
    groupIntervalMs: duration(config.group_interval) ?? parent?.groupIntervalMs ?? ROUTE_DEFAULTS.groupIntervalMs,
    repeatIntervalMs: duration(config.repeat_interval) ?? parent?.repeatIntervalMs ?? ROUTE_DEFAULTS.repeatIntervalMs,
    muteTimeIntervals: config.mute_time_intervals ?? [],
    activeTimeIntervals: config.active_time_intervals ?? [],
    matchers: sortMatchers(ms),
    continue: config.continue,
    routes: [],
    parent,
  };
  route.routes = (config.routes ?? []).map((child) => buildRoute(child, route));
  return route;
}

function duration(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDuration(text);
}

/**
 * The nodes that handle an alert with these labels: depth first, left to right; at each level the
 * first matching child ends the search unless it has `continue`; a node no child takes handles the
 * alert itself. Empty when the node's own matchers do not match.
 */
export function matchRoutes(route: Route, labels: Labels): Route[] {
  if (!matchesAll(route.matchers, labels)) return [];
  const all: Route[] = [];
  for (const child of route.routes) {
    const found = matchRoutes(child, labels);
    all.push(...found);
    if (found.length && !child.continue) break;
  }
  return all.length ? all : [route];
}

/** Receivers in tree order, one per matching node (repeats kept, as amtool prints them). */
export function routeReceivers(route: Route, labels: Labels): string[] {
  return matchRoutes(route, labels).map((r) => r.receiver);
}

/** `{}/{owner="team-A"}/{env="testing"}`: the node's matchers from the root down, as Alertmanager keys groups. */
export function routeKey(route: Route): string {
  const own = matchersString(route.matchers);
  return route.parent ? `${routeKey(route.parent)}/${own}` : own;
}

/** The labels an alert's group is keyed by on this route. */
export function groupLabels(route: Route, labels: Labels): Record<string, string> {
  if (route.groupByAll) return { ...labels };
  const out: Record<string, string> = {};
  for (const name of route.groupBy) if (Object.hasOwn(labels, name)) out[name] = labels[name]!;
  return out;
}

/** `<route key>:{a="1",b="2"}`: one group per route and group-label values. */
export function groupKey(route: Route, labels: Labels): string {
  const gl = groupLabels(route, labels);
  const pairs = Object.keys(gl)
    .sort()
    .map((k) => `${k}=${JSON.stringify(gl[k])}`);
  return `${routeKey(route)}:{${pairs.join(',')}}`;
}

/** Every receiver name the tree refers to. */
export function routeReceiverNames(route: Route): Set<string> {
  const names = new Set<string>([route.receiver]);
  for (const child of route.routes) for (const n of routeReceiverNames(child)) names.add(n);
  return names;
}

const SEPARATOR = '  ';

function slug(route: Route, showContinue: boolean, showReceiver: boolean): string {
  let s = route.matchers.length ? matchersString(route.matchers) : 'default-route';
  if (showContinue && route.continue) s += `${SEPARATOR}continue: true`;
  if (showReceiver) s += `${SEPARATOR}receiver: ${route.receiver}`;
  return s;
}

interface TreeNode {
  label: string;
  children: TreeNode[];
}

function drawTree(nodes: TreeNode[]): string {
  const lines = ['.'];
  const draw = (list: TreeNode[], indent: string) =>
    list.forEach((n, i) => {
      const last = i === list.length - 1;
      lines.push(`${indent}${last ? '└── ' : '├── '}${n.label}`);
      draw(n.children, indent + (last ? '    ' : '│   '));
    });
  draw(nodes, '');
  return lines.join('\n') + '\n';
}

/** The path an alert takes through the tree, drawn as `amtool config routes test --tree` draws it. */
export function matchingTree(route: Route, labels: Labels): string {
  const walk = (r: Route): TreeNode => {
    const node: TreeNode = { label: slug(r, false, false), children: [] };
    for (const child of r.routes) {
      if (!matchesAll(child.matchers, labels)) continue;
      node.children.push(walk(child));
      if (!child.continue) break;
    }
    if (node.children.length === 0) node.label = slug(r, false, true);
    return node;
  };
  return drawTree([walk(route)]);
}

/** The whole tree, as `amtool config routes` draws it. */
export function routeTree(route: Route): string {
  const walk = (r: Route): TreeNode => ({ label: slug(r, true, true), children: r.routes.map(walk) });
  return drawTree([walk(route)]);
}
