import { AUDIT_VARIABLES, AuditActivation } from '../../src/detect/activation';
import { buildEnvironment, compile, type Program } from '../../src/detect/cel/environment';
import { BUILTIN_RULES_DIR, loadRuleSet } from '../../src/detect/engine';
import { fixtureToEvent, readFixtures } from '../../src/detect/fixtures';
import { leadingGuard } from '../../src/detect/rules/guard';
import { RuleSet } from '../../src/detect/rules/ruleset';
import type { SecurityEvent } from '../../src/core/event';
import { auditEvent } from './helpers';

const env = buildEnvironment(AUDIT_VARIABLES, new Map([['allowed', ['alice']]]));
const program = (source: string): Program => {
  const p = compile(env, source);
  if ('error' in p) throw new Error(p.error);
  return p;
};

describe('leadingGuard', () => {
  const bob = new AuditActivation(auditEvent({ user: { username: 'bob' }, verb: 'get' }).raw);
  const system = new AuditActivation(auditEvent({ user: { username: 'system:kube-proxy' }, verb: 'get' }).raw);
  const impersonating = new AuditActivation(
    auditEvent({ user: { username: 'bob' }, impersonatedUser: { username: 'admin' }, verb: 'list' }).raw,
  );

  test.each([
    ['user == "bob" && verb == "list"', [true, false, true]],
    ['"bob" == user && verb == "list"', [true, false, true]],
    ['user != "bob" && !(user in allowed)', [false, true, false]],
    ['!user.startsWith("system:") && !(user in allowed) && verb == "get"', [true, false, true]],
    ['(user.startsWith("system:") && verb == "get") && !(user in allowed)', [false, true, false]],
    ['impersonatedUser != "" && !(user in allowed)', [false, false, true]],
    ['verb == "get"', [true, true, false]],
  ])('%s: false only where the leading conjunct is', (source, [ofBob, ofSystem, ofImpersonating]) => {
    const guard = leadingGuard(program(source))!;
    expect(guard).toBeDefined();
    expect([guard(bob), guard(system), guard(impersonating)]).toEqual([ofBob, ofSystem, ofImpersonating]);
  });

  test.each([
    'responseCode == 200 && user == "bob"', // not a string field
    'name == "web" && user == "bob"', // computed, not read
    'user == "bob" || verb == "get"',
    '!(user == "bob" && verb == "get")',
    'user in allowed && verb == "get"',
    'user.startsWith(verb) && verb == "get"',
    'ka.user.username == "bob" && verb == "get"',
    'groups.exists(user, user == "bob")',
  ])('%s: no guard', (source) => {
    expect(leadingGuard(program(source))).toBeUndefined();
  });
});

describe('the built-in pack with guards', () => {
  const pack = loadRuleSet({});
  /** The same rules, every condition evaluated by CEL. */
  const unguarded = new RuleSet(
    pack.rules.map(({ guard: _guard, ...rule }) => ({
      ...rule,
      stats: { evaluations: 0, matches: 0, excepted: 0, errors: 0 },
    })),
    pack.definitions,
  );

  it('guards the rules every audit event meets', () => {
    // The three `*` rules: what the guard is for (a cel-js AST this code no longer reads fails here).
    const guarded = pack.rules.filter((r) => r.guard).map((r) => r.def.id);
    expect(guarded).toEqual(
      expect.arrayContaining(['disallowed-k8s-user', 'anonymous-request-allowed', 'k8s-impersonation-used']),
    );
  });

  it('detects exactly what CEL alone detects, over every fixture and its variants by user', () => {
    const events: SecurityEvent[] = [];
    let i = 0;
    const users = [
      undefined,
      { username: 'system:anonymous', groups: ['system:unauthenticated'] },
      { username: 'alice@example.com', groups: ['system:authenticated'] },
      { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      { username: 'admin' },
    ];
    for (const file of readFixtures([BUILTIN_RULES_DIR])) {
      for (const entry of file.entries) {
        for (const f of [...entry.fire, ...entry.miss]) {
          if ('rule' in f.event || 'output_fields' in f.event) continue; // a Falco fixture
          for (const user of users) {
            for (const impersonatedUser of [undefined, { username: 'cluster-admin' }]) {
              const patch = { ...f.event, ...(user ? { user } : {}), ...(impersonatedUser ? { impersonatedUser } : {}) };
              events.push(fixtureToEvent(patch, i++, 'k8s_audit'));
            }
          }
        }
      }
    }
    expect(events.length).toBeGreaterThan(1000);
    const seen = (set: RuleSet, e: SecurityEvent) => set.detectAudit(e).map((d) => `${d.ruleId}: ${d.summary}`);
    let detections = 0;
    for (const e of events) {
      const expected = seen(unguarded, e);
      detections += expected.length;
      expect(seen(pack, e)).toEqual(expected);
    }
    expect(detections).toBeGreaterThan(events.length / 2);
    // Guarded rules still count as evaluated, as they were.
    expect(pack.evaluations).toBe(unguarded.evaluations);
    for (const rule of pack.rules) expect(rule.stats).toEqual(unguarded.byId(rule.def.id)!.stats);
  });
});
