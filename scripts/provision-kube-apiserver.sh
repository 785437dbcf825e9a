#!/usr/bin/env bash
# Provisions the real kube-apiserver and etcd that test/integration/kube-apiserver/ runs against
# (test/support/real-kube-apiserver.ts). Idempotent: a no-op (milliseconds) when the cached build matches.
#
#   kube-apiserver  built from the k8s.io/kubernetes Go module into <services>/kube/bin (gitignored).
#                   The module ships a vendor/ folder, a go.work and `./staging` replace lines that only
#                   work inside a git checkout; we drop them and require the published staging modules
#                   (k8s.io/api etc. at v0.MINOR.PATCH) instead. About 7 minutes of CPU on 2 cores, once.
#   etcd            Debian's etcd-server (3.4, accepted by 1.37) when no `etcd` is on PATH.
#
#   KUBE_VERSION    Kubernetes release to build (default below); a change rebuilds.
#   SERVICES_DIR    where kube/bin goes (default: <repo>/.services).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
services="${SERVICES_DIR:-$repo/.services}"
kube_version="${KUBE_VERSION:-v1.37.2}"
bin="$services/kube/bin"
stamp="$bin/kube-apiserver.VERSION"

log() { echo "provision: $*"; }

# --- etcd --------------------------------------------------------------------------------------
if ! command -v etcd >/dev/null 2>&1 && [ ! -x "$bin/etcd" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing etcd; install it as root: apt-get install -y etcd-server" >&2
    exit 1
  fi
  log "installing etcd-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  # Debian starts a system etcd on 2379; the tests run their own on free ports.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi
fi

# --- kube-apiserver ------------------------------------------------------------------------------
if [ -x "$bin/kube-apiserver" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kube_version" ]; then
  log "kube-apiserver $kube_version already in $bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  log "kube-apiserver needs Go to build; install Go 1.25+ (https://go.dev/dl/)" >&2
  exit 1
fi

staging_version="v0.${kube_version#v1.}"
log "building kube-apiserver $kube_version (staging $staging_version) with $(go version | cut -d' ' -f3) (minutes of CPU, once)"
mod_dir="$(go mod download -json "k8s.io/kubernetes@$kube_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$mod_dir" ] || [ ! -f "$mod_dir/go.mod" ]; then
  log "go mod download k8s.io/kubernetes@$kube_version gave no module folder" >&2
  exit 1
fi

src="$services/kube/src"
rm -rf "$src"
mkdir -p "$src" "$bin"
cp -R "$mod_dir/." "$src/"
chmod -R u+w "$src"
rm -rf "$src/vendor" "$src/go.work" "$src/go.work.sum"
(
  cd "$src"
  # Every `k8s.io/x => ./staging/src/k8s.io/x` replace names a staging module; require its release instead.
  staging_mods="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/.*#\1#p' go.mod)"
  sed -i '/=> \.\/staging\//d' go.mod
  args=()
  for m in $staging_mods; do args+=("-require=$m@$staging_version"); done
  go mod edit "${args[@]}"
  # -ldflags stamps what the release Makefile stamps: the version the apiserver reports (/version).
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$kube_version" | cut -d. -f2)"
  GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver.partial" ./cmd/kube-apiserver
)
mv "$bin/kube-apiserver.partial" "$bin/kube-apiserver"
echo "$kube_version" >"$stamp"
rm -rf "$src"
log "kube-apiserver: $("$bin/kube-apiserver" --version)"
