'use strict';
// Pre-fills what the scale series needs straight through the state APIs (not over HTTP, so filling a
// million fingerprints takes seconds, not the run): dedup counters in the store, pods in the cluster
// state. Names match bench/events.js (`pod-<k>` in `ns-<k mod 20>`).
const { NAMESPACES } = require('./events');

/** `count` distinct fingerprints live in the dedup window, as the alert stage keeps them. */
async function fillFingerprints(store, count, windowMs, now = Date.now()) {
  const pending = [];
  for (let i = 0; i < count; i++) {
    pending.push(store.hit(`dedup:prefill${i.toString(16).padStart(19, '0')}`, now, windowMs));
    if (pending.length === 10_000) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

/** Namespaces, service accounts and `count` pods in the state of `cluster`. */
function fillPods(states, cluster, count) {
  const state = states.get(cluster);
  for (let i = 0; i < NAMESPACES; i++) {
    const name = `ns-${i}`;
    state.upsert({ kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
    for (let s = 0; s < 10; s++)
      state.upsert({ kind: 'ServiceAccount', metadata: { name: `sa-${s}`, namespace: name, uid: `${name}-sa-${s}` } });
  }
  for (let i = 0; i < count; i++) state.upsert(pod(i, `ns-${i % NAMESPACES}`));
}

function pod(i, namespace) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${i}`,
      namespace,
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      labels: { app: `app-${i % 40}`, 'pod-template-hash': 'abc123', tier: i % 2 ? 'web' : 'worker' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i % 40}-abc123`, uid: 'rs', controller: true }],
    },
    spec: {
      serviceAccountName: `sa-${i % 10}`,
      nodeName: `node-${i % 200}`,
      securityContext: i % 3 === 0 ? { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } : {},
      containers: [0, 1, 2].map((c) => ({
        name: `app-${c}`,
        image: `registry.example.com/app-${i % 40}:1.2.3`,
        securityContext: i % 10 === 0 ? { privileged: true } : { allowPrivilegeEscalation: false },
      })),
    },
    status: { phase: 'Running', podIP: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
  };
}

module.exports = { fillFingerprints, fillPods };
