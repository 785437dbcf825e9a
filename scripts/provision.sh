#!/usr/bin/env bash
# Installs what the test suite needs on a machine without Docker: Redis and Kafka binaries.
# Idempotent; .ci/run calls it. See docs/development.md.
set -euo pipefail
echo "provision: nothing to install yet"
