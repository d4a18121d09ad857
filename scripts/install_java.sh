#!/usr/bin/env bash
# Install Debian's Java 17 runtime for the Spark target (tests/test_spark.py, and
# `segmentation run --target spark`): pyspark starts a JVM in local mode. Needs root
# (CI and the developers' machines run as root). Idempotent: nothing to do when a
# `java` is on PATH or JAVA_HOME is set.
set -euo pipefail

if command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_java: no java found and installing openjdk-17-jre-headless needs root" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
java -version
