"""The run's working database: where raw extracts land and dbt builds and audits."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# A run killed with SIGKILL can leave its dbt child alive for a while, still holding
# DuckDB's lock on the working file (it dies at its next write to the closed pipe);
# a concurrent run on the same warehouse holds it too. Wait for it rather than fail.
LOCK_WAIT_SECONDS = 120.0
_LOCK_RETRY_INTERVAL = 1.0


def _connect(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() >= deadline:
                if "lock" in str(error).lower():
                    raise duckdb.IOException(
                        f"the working database {path} is still locked by another process after "
                        f"{wait_seconds:.0f} s (another run on the same warehouse, or a leftover of a "
                        f"killed one): wait for it to end, or stop it, and run again"
                    ) from error
                raise
            log.warning("working database %s is locked by another process; waiting", path)
            time.sleep(_LOCK_RETRY_INTERVAL)


@contextmanager
def connect_work_db(
    path: Path, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path, read_only, wait_seconds)
    try:
        conn.execute("set TimeZone = 'UTC'")
        yield conn
    finally:
        conn.close()
