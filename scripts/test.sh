#!/usr/bin/env bash
# Install and run the test suite (the CI subset; `scripts/test.sh -m slow` runs the
# long suites on demand). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/python -m pytest -m "not slow" "$@"
