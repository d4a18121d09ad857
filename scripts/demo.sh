#!/usr/bin/env bash
# Install, write demo extracts for a fictional company, and run the nightly job on
# them: the warehouse is published to data/warehouse/segments.duckdb.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
as_of="${SEGMENTATION_AS_OF:-$(date -u +%F)}"
.venv/bin/segmentation demo-data --out data/landing --as-of "$as_of"
.venv/bin/segmentation run --landing data/landing --warehouse data/warehouse/segments.duckdb --as-of "$as_of"
