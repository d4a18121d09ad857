#!/usr/bin/env bash
# Install and run the test suite (the CI subset; `scripts/test.sh -m slow` runs the
# long suites on demand). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
scripts/install_browser.sh   # Debian's Chromium for tests/test_browser.py
scripts/install_java.sh      # Debian's Java 17 for tests/test_spark.py (Spark local mode)
exec .venv/bin/python -m pytest -m "not slow" "$@"
