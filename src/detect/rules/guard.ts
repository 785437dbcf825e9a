import type { AuditActivation } from '../activation';
import type { Program } from '../cel/environment';

/**
 * Says before a condition runs that it cannot hold: false only when the condition's leading conjunct
 * is false, so the whole `&&` chain is (CEL's `false && x` is false whatever `x` does, errors
 * included). The three rules that apply to every audit event begin so (`!user.startsWith("system:")`,
 * `user == "system:anonymous"`, `impersonatedUser != ""`) and nearly every event fails there. The
 * answer is CEL's, read natively: the interpreter's evaluation of that one comparison (a context
 * object, the `&&` nodes, the call's overload lookup) cost 0.8 µs of a quiet event's 2.6 in a tight
 * loop and 1.6 of 4.5 with 1 MB of other memory touched between events, as the pipeline does
 * (docs/performance.md, audit-detect).
 */
export type Guard = (activation: AuditActivation) => boolean;

/** The activation's fields that are always strings, read without computing anything. */
const STRING_FIELDS = new Set(['stage', 'verb', 'uri', 'resource', 'subresource', 'ns', 'apiGroup', 'user', 'impersonatedUser']);
type StringField = 'stage' | 'verb' | 'uri' | 'resource' | 'subresource' | 'ns' | 'apiGroup' | 'user' | 'impersonatedUser';

/**
 * The part of cel-js's checked AST read here (`program.ast`): `op`, and `args` ([left, right] for a
 * binary operator, the operand for `!_`, [name, receiver, [arguments]] for a method call). Any other
 * shape, or a library that changes it, gives no guard: the rule is evaluated as before.
 */
interface Node {
  op?: unknown;
  args?: unknown;
}

/** The guard of a compiled audit condition, or undefined when its leading conjunct is not one read here. */
export function leadingGuard(program: Program): Guard | undefined {
  let node = (program as { ast?: Node }).ast;
  while (node?.op === '&&' && Array.isArray(node.args)) node = node.args[0] as Node;
  return node ? comparison(node) : undefined;
}

function comparison(node: Node): Guard | undefined {
  const args = node.args;
  if (node.op === '!_') {
    const inner = comparison(args as Node);
    return inner && ((a) => !inner(a));
  }
  if ((node.op === '==' || node.op === '!=') && Array.isArray(args) && args.length === 2) {
    const [field, text] = fieldAndText(args[0] as Node, args[1] as Node) ?? fieldAndText(args[1] as Node, args[0] as Node) ?? [];
    if (field === undefined || text === undefined) return undefined;
    return node.op === '==' ? (a) => a[field] === text : (a) => a[field] !== text;
  }
  if (node.op === 'rcall' && Array.isArray(args) && args[0] === 'startsWith' && Array.isArray(args[2]) && args[2].length === 1) {
    const [field, text] = fieldAndText(args[1] as Node, args[2][0] as Node) ?? [];
    if (field === undefined || text === undefined) return undefined;
    return (a) => a[field].startsWith(text);
  }
  return undefined;
}

function fieldAndText(field: Node, text: Node): [StringField, string] | undefined {
  if (field?.op !== 'id' || typeof field.args !== 'string' || !STRING_FIELDS.has(field.args)) return undefined;
  if (text?.op !== 'value' || typeof text.args !== 'string') return undefined;
  return [field.args as StringField, text.args];
}
