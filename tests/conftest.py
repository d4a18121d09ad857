"""Shared fixtures: real DuckDB files, real dbt invocations, real Dagster runs."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pycountry
import pytest

from pipeline.config import load_config, load_entity_specs
from pipeline.dbt_project import DBT_PROJECT_DIR
from pipeline.defs.ingestion import WAREHOUSE_TABLES, copy_from_warehouse

AS_OF = date(2026, 11, 22)


def create_empty_raw_tables(db_path: Path) -> None:
    """The raw schema as ingestion leaves it, without rows (what dbt needs to compile)."""
    conn = duckdb.connect(str(db_path))
    try:
        conn.execute("create schema if not exists raw")
        for spec in load_entity_specs():
            columns = ", ".join(f'"{column}" varchar' for column in spec.columns)
            conn.execute(
                f"create or replace table raw.{spec.name} ({columns}, "
                "_file_name varchar, _extract_date date, _row_number bigint)"
            )
        conn.execute("create or replace table raw.reference__iso_countries (country_code varchar)")
        for table in WAREHOUSE_TABLES:
            copy_from_warehouse(conn, db_path.parent / "no-warehouse-yet.duckdb", table)
        conn.executemany(
            "insert into raw.reference__iso_countries values (?)", [[c.alpha_2] for c in pycountry.countries]
        )
    finally:
        conn.close()


def run_dbt(args: list[str], work_db: Path, target_dir: Path, as_of: date = AS_OF, config_file=None):
    """Run the dbt CLI on the project against `work_db` with the run's vars."""
    dbt_vars = load_config(config_file).dbt_vars(as_of, "test-run")
    env = {**os.environ, "SEGMENTATION_WORK_DB": str(work_db), "DBT_TARGET_PATH": str(target_dir),
           "DBT_LOG_PATH": str(target_dir), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    command = [str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR), "--vars", json.dumps(dbt_vars)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def empty_built_work_db(tmp_path_factory) -> tuple[Path, Path]:
    """A working database with every model built empty (`dbt run --empty`)."""
    root = tmp_path_factory.mktemp("dbt_empty")
    work_db = root / "work.duckdb"
    create_empty_raw_tables(work_db)
    result = run_dbt(["run", "--empty"], work_db, root / "target")
    assert result.returncode == 0, result.stdout + result.stderr
    return work_db, root


_exit_status = {"code": None}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


def pytest_unconfigure(config):
    """End the process once pytest has printed its summary.

    After great-expectations has inspected a DuckDB table through SQLAlchemy, DuckDB's
    nanobind bindings report "leaked instances" during interpreter teardown, after
    pytest's closing line. The report is harmless; exiting here keeps the closing
    line last (CI reads it) with pytest's own exit status."""
    if _exit_status["code"] is not None and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
