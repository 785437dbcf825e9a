#!/usr/bin/env bash
# Gets what the test suite needs onto this machine. `npm test` runs it first (before the type-check and
# lint), so a fresh clone needs only `npm install && npm test`; `.ci/run` gets it through `npm test` too.
# Idempotent: when everything is there it finishes in about a second. Where it cannot install something
# (not root for apt, no network) it stops at once and prints the one command that would.
# See docs/development.md for how the tests find and start these services.
#
# Each service has a section below that does its whole job and never exits early, so sections can be
# added (Chromium, helm) without touching the others. The Debian packages every section needs are
# gathered first and installed in one apt-get call.
#
#   KAFKA_VERSION   Kafka release to fetch (default below); a change re-fetches the jars.
#   SERVICES_DIR    where the jars go (default: <repo>/.services, gitignored).
#   FALCONER_TEST_KAFKA_BROKERS / FALCONER_TEST_REDIS_URL   services you run yourself: nothing to provision.
#   FALCONER_TEST_SERVICES=off   the tests start no services: nothing to provision for them.
#   FALCONER_TEST_CHROMIUM   a Chromium binary of your own for the browser tests (default /usr/bin/chromium).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
services="${SERVICES_DIR:-$repo/.services}"
kafka_version="${KAFKA_VERSION:-4.1.1}"
# Kafka 4 logs through log4j2 and, for some modules, slf4j; its pom leaves the slf4j binding out.
log4j_version="2.24.3"
slf4j_version="2.0.17"
maven_central="https://repo1.maven.org/maven2/"

log() { echo "provision: $*"; }
fail() {
  echo "provision: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }

# A Docker engine that answers: test/support/services.ts then starts Redis and Kafka in containers.
docker_engine=0
if [ -n "${DOCKER_HOST:-}" ] || [ -S /var/run/docker.sock ] || [ -S "${HOME:-}/.docker/run/docker.sock" ]; then
  if have docker && timeout 5 docker info >/dev/null 2>&1; then docker_engine=1; fi
fi
# Whether the tests will start this service natively (and so need it installed here).
native() {
  [ "${FALCONER_TEST_SERVICES:-}" != "off" ] && [ "$docker_engine" -eq 0 ] && [ -z "${!1:-}" ]
}

# --- Pod Security conformance fixtures --------------------------------------------------------
# kubernetes/pod-security-admission's test/testdata (19 MB, 4.5k pods) is not in this repository; the
# conformance suites read it from ../shared/conformance beside the checkout, or FALCONER_PSA_FIXTURES.
psa_fixtures="${FALCONER_PSA_FIXTURES:-$repo/../shared/conformance/pod-security-admission}"
if [ -d "$psa_fixtures/restricted" ]; then
  log "pod security fixtures: $(cd "$psa_fixtures" && pwd)"
else
  fail "the Pod Security conformance fixtures are not at $psa_fixtures. Copy kubernetes/pod-security-admission's
test/testdata there (layout <level>/v1.<N>/{pass,fail}/*.yaml), or point at a copy:

  export FALCONER_PSA_FIXTURES=/path/to/pod-security-admission"
fi

# --- Debian packages ---------------------------------------------------------------------------
apt_packages=()
if native FALCONER_TEST_REDIS_URL && ! have redis-server; then apt_packages+=(redis-server); fi
if native FALCONER_TEST_KAFKA_BROKERS; then
  if ! have java || [ "$(java_major)" -lt 17 ]; then apt_packages+=(openjdk-17-jre-headless); fi
  if ! have mvn; then apt_packages+=(maven); fi
fi
# Chromium for the console's browser tests (test/console/): Debian's package, never a browser download.
# DejaVu, so screenshots have glyphs (chromium only recommends fonts, and apt installs no recommends here).
chromium_bin="${FALCONER_TEST_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  if [ -n "${FALCONER_TEST_CHROMIUM:-}" ]; then fail "FALCONER_TEST_CHROMIUM=$chromium_bin is not an executable"; fi
  apt_packages+=(chromium fonts-dejavu-core)
fi

if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
    fail "missing ${apt_packages[*]}. Install them as root (sudo, su -c, or in your image), then run npm test again:

  apt-get update && apt-get install -y ${apt_packages[*]}

Or run the services yourself and set FALCONER_TEST_REDIS_URL=redis://host:port and
FALCONER_TEST_KAFKA_BROKERS=host:port, or start a Docker engine (docs/development.md)."
  fi
  log "installing ${apt_packages[*]}"
  apt-get update -qq || fail "apt-get update failed (no network?); install ${apt_packages[*]} by hand"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

# --- Redis -------------------------------------------------------------------------------------
if native FALCONER_TEST_REDIS_URL; then
  log "redis: $(redis-server --version | cut -d' ' -f3)"
fi

# --- Kafka: jars from Maven Central ------------------------------------------------------------
kafka_dir="$services/kafka"
if native FALCONER_TEST_KAFKA_BROKERS && [ -z "${FALCONER_KAFKA_LIBS:-}" ]; then
  if [ -f "$kafka_dir/VERSION" ] && [ "$(cat "$kafka_dir/VERSION")" = "$kafka_version" ] && [ -d "$kafka_dir/libs" ]; then
    log "kafka $kafka_version: in $kafka_dir/libs (java $(java_major))"
  else
    # Without Maven Central, only what is already in the local Maven repository (~/.m2) can be used.
    mvn_mode=()
    if ! curl -sSfI --max-time 5 "${maven_central}org/apache/kafka/kafka_2.13/$kafka_version/kafka_2.13-$kafka_version.pom" >/dev/null 2>&1; then
      log "Maven Central ($maven_central) does not answer: trying the local Maven repository"
      mvn_mode=(-o)
    fi
    log "fetching kafka_2.13 $kafka_version and its runtime dependencies into $kafka_dir/libs"
    pom_dir="$(mktemp -d)"
    cat >"$pom_dir/pom.xml" <<EOF
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
    # Maven's output only matters when it fails (and -q still leaves colour codes behind).
    if ! mvn -B -q -Dstyle.color=never "${mvn_mode[@]}" -f "$pom_dir/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$kafka_dir/libs.partial" >"$pom_dir/mvn.log" 2>&1; then
      tail -n 20 "$pom_dir/mvn.log" >&2
      rm -rf "$pom_dir" "$kafka_dir/libs.partial"
      fail "could not fetch the Kafka jars from Maven Central. Where there is network, run:

  bash scripts/provision.sh

Or set FALCONER_KAFKA_LIBS to a folder of Kafka $kafka_version jars, or FALCONER_TEST_KAFKA_BROKERS=host:port."
    fi
    rm -rf "$pom_dir"
    # Swap in whole, so an interrupted fetch never leaves a half-filled libs folder behind.
    rm -rf "$kafka_dir/libs"
    mv "$kafka_dir/libs.partial" "$kafka_dir/libs"
    echo "$kafka_version" >"$kafka_dir/VERSION"
    log "kafka $kafka_version: $(find "$kafka_dir/libs" -name '*.jar' | wc -l) jars in $kafka_dir/libs"
  fi
fi

# --- helm (for the chart tests, test/deploy/helm.test.ts) ------------------------------------------
# Owned by the Helm chart work; builds helm with Go into $services/bin. Idempotent.
SERVICES_DIR="$services" bash "$repo/scripts/provision-helm.sh"

# --- kube-apiserver and etcd (for test/integration/real-kube-apiserver.test.ts) -------------------
# Owned by the real-apiserver tests (issue 16); builds kube-apiserver with Go into $services/kube/bin. Idempotent.
SERVICES_DIR="$services" bash "$repo/scripts/provision-kube-apiserver.sh"

# --- Chromium (for the console's browser tests, test/console/) --------------------------------------
# The package went into apt_packages above; here it checks it landed and says which one the tests drive.
[ -x "$chromium_bin" ] || fail "chromium is not at $chromium_bin after installing it; the console's browser tests need it"
log "chromium: $("$chromium_bin" --version 2>/dev/null | head -n1) ($chromium_bin)"
