export { subjectFor, parseServiceAccountUser, type RequestSubject } from './subject';
export {
  ruleAllows,
  firstAllowingRule,
  isNonResourceRequest,
  type AccessRequest,
  type ResourceRequest,
  type NonResourceRequest,
} from './rules';
export {
  bindingsFor,
  can,
  whoCan,
  describe,
  SUPERUSER_GROUP,
  type AppliedBinding,
  type BindingRef,
  type Decision,
  type RoleRefSummary,
  type WhoCanEntry,
} from './authorize';
export { riskyPermissions, PROBES, SEVERITIES, type RiskFinding, type Severity } from './risky';
export { resolveSubject, type ActorInput, type SubjectEnrichment } from './resolve';
export { parseResourceArg, type ResourceArg } from './resource-arg';
