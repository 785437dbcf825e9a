export * from './types';
export { selectorMatches, selectsEverything } from './label-selector';
export { slimObject } from './slim';
export { ClusterState, subjectKey, type SubjectKey, type StateCounts } from './state';
export { ClusterStates } from './clusters';
export { loadSnapshot, parseDocuments, SnapshotError, type SnapshotLoad } from './snapshot';
export { applyAuditEvent, type AuditApplyResult } from './audit';
export { watchCluster, type ClusterWatch, type WatchClusterOptions, type LiveKindStatus } from './live';
