#!/usr/bin/env bash
# Builds the `helm` the chart tests render with (test/deploy/helm.test.ts) from the Go module proxy
# into <repo>/.services/bin (gitignored). Idempotent: a no-op when that version is already there.
#
#   HELM_VERSION   helm release to build (default below); a change rebuilds.
#   SERVICES_DIR   where bin/helm goes (default: <repo>/.services).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
services="${SERVICES_DIR:-$repo/.services}"
helm_version="${HELM_VERSION:-v3.22.0}"
# The Kubernetes version helm assumes without a cluster; release builds derive it from their client-go
# (v0.37 for helm v3.22), `go install` would leave helm's v1.20 fallback.
k8s_minor="${HELM_K8S_MINOR:-37}"
bin="$services/bin"
stamp="$bin/helm.VERSION"

log() { echo "provision: $*"; }

if [ -x "$bin/helm" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$helm_version k8s 1.$k8s_minor" ]; then
  log "helm $helm_version already in $bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "helm needs Go to build; install Go 1.24+ (https://go.dev/dl/) or put helm $helm_version on PATH" >&2
  exit 1
fi

log "building helm $helm_version with $(go version | cut -d' ' -f3) (a few minutes of CPU, once)"
mkdir -p "$bin"
# -trimpath keeps the binary independent of where the module cache is; the build cache makes reruns fast.
# The -X flags stamp what helm's Makefile stamps into a release: its version and the Kubernetes version.
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in pkg/chartutil pkg/lint/rules; do
  ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install -ldflags "$ldflags" \
  "helm.sh/helm/v3/cmd/helm@$helm_version"
echo "$helm_version k8s 1.$k8s_minor" >"$stamp"
log "helm: $("$bin/helm" version --short)"
