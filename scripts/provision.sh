#!/usr/bin/env bash
# Installs what the test suite needs on a machine without Docker: Debian's redis-server and a
# single-node Apache Kafka (KRaft) built from Maven Central jars. Idempotent; .ci/run calls it.
# See docs/development.md for how the tests find and start these services.
#
#   KAFKA_VERSION   Kafka release to fetch (default below); a change re-fetches the jars.
#   SERVICES_DIR    where the jars go (default: <repo>/.services, gitignored).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
services="${SERVICES_DIR:-$repo/.services}"
kafka_version="${KAFKA_VERSION:-4.1.1}"
# Kafka 4 logs through log4j2 and, for some modules, slf4j; its pom leaves the slf4j binding out.
log4j_version="2.24.3"
slf4j_version="2.0.17"

log() { echo "provision: $*"; }

apt_updated=0
apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "missing $*; install it as root: apt-get install -y $*" >&2
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

java_major() {
  java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1
}

# --- Redis -------------------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server"
  apt_install redis-server
fi
log "redis: $(redis-server --version | cut -d' ' -f3)"

# --- Java 17+ and Maven ------------------------------------------------------------------------
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  log "installing a Java 17 runtime"
  apt_install openjdk-17-jre-headless
fi
if ! command -v mvn >/dev/null 2>&1; then
  log "installing maven"
  apt_install maven
fi
log "java: $(java_major)"

# --- Kafka jars from Maven Central -------------------------------------------------------------
kafka_dir="$services/kafka"
stamp="$kafka_dir/VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$kafka_version" ] && [ -d "$kafka_dir/libs" ]; then
  log "kafka $kafka_version already in $kafka_dir/libs"
  exit 0
fi

log "fetching kafka_2.13 $kafka_version and its runtime dependencies"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.falconer.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j_version</version></dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$kafka_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$log4j_version</version></dependency>
  </dependencies>
</project>
EOF
rm -rf "$kafka_dir/libs.partial"
mkdir -p "$kafka_dir"
mvn -B -q -Dstyle.color=never -f "$work/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$kafka_dir/libs.partial"
# Swap in whole, so an interrupted fetch never leaves a half-filled libs folder behind.
rm -rf "$kafka_dir/libs"
mv "$kafka_dir/libs.partial" "$kafka_dir/libs"
echo "$kafka_version" >"$stamp"
log "kafka $kafka_version: $(ls "$kafka_dir/libs" | wc -l) jars in $kafka_dir/libs"

# --- helm (for the chart tests, test/deploy/helm.test.ts) ------------------------------------------
# Owned by the Helm chart work; builds helm with Go into $services/bin. Idempotent.
SERVICES_DIR="$services" bash "$repo/scripts/provision-helm.sh"

# --- kube-apiserver and etcd (for test/integration/real-kube-apiserver.test.ts) -------------------
# Owned by the real-apiserver tests (issue 16); builds kube-apiserver with Go into $services/kube/bin. Idempotent.
SERVICES_DIR="$services" bash "$repo/scripts/provision-kube-apiserver.sh"
