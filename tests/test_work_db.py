"""The working database waits for a lock left by another process instead of failing."""

import subprocess
import sys
import time

import duckdb
import pytest

from pipeline.work_db import connect_work_db


def _hold(db, seconds):
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
                               f"time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_waits_for_a_lock_that_is_released(tmp_path):
    db = tmp_path / "work.duckdb"
    holder = _hold(db, 2)
    started = time.monotonic()
    with connect_work_db(db) as conn:
        assert conn.execute("select 42").fetchone() == (42,)
    assert time.monotonic() - started >= 1
    holder.wait()


def test_a_lock_held_too_long_fails_with_a_clear_message(tmp_path):
    db = tmp_path / "work.duckdb"
    holder = _hold(db, 5)
    try:
        with pytest.raises(duckdb.IOException, match="still locked by another process"):
            with connect_work_db(db, wait_seconds=1):
                pass
    finally:
        holder.kill()
        holder.wait()
