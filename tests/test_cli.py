"""The `segmentation` console command as a user (or a scheduler) calls it."""

import subprocess
import sys
from pathlib import Path

import duckdb

SEGMENTATION = str(Path(sys.executable).with_name("segmentation"))


def _run(*args, cwd=None):
    return subprocess.run([SEGMENTATION, *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def test_bad_configuration_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text("dimensions:\n  value_tier:\n    medium_min_revenue: -5\n")
    (tmp_path / "landing").mkdir()
    result = _run("run", "--landing", str(tmp_path / "landing"), "--config", str(config), "--as-of", "2026-11-22")
    assert result.returncode == 2
    assert "dimensions.value_tier.medium_min_revenue" in result.stderr


def test_missing_landing_folder_exits_2(tmp_path):
    result = _run("run", "--landing", str(tmp_path / "nowhere"), "--as-of", "2026-11-22")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_demo_data_then_run_publishes_and_exits_0(tmp_path):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "segments.duckdb"
    made = _run("demo-data", "--out", str(landing), "--accounts", "120", "--seed", "3", "--as-of", "2025-03-31")
    assert made.returncode == 0, made.stderr
    assert (landing / "crm" / "accounts" / "2025-03-31.csv").exists()

    result = _run("run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", "2025-03-31")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PUBLISHED")
    assert "> publish_warehouse" in result.stderr  # progress as it goes
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        published = conn.execute("select count(*) from analytics.segmented_accounts").fetchone()[0]
    finally:
        conn.close()
    assert f"PUBLISHED {published} accounts" in result.stdout
    # All working data of the run lives beside the warehouse.
    assert (warehouse.parent / ".segments.duckdb.work" / "work.duckdb").exists()


def test_a_failed_run_exits_1_and_says_why(tmp_path):
    landing = tmp_path / "landing"
    (landing / "crm" / "accounts").mkdir(parents=True)
    (landing / "crm" / "accounts" / "2026-11-22.csv").write_text("account_id,account_name,created_at\nA1,Acme,2020-01-01\n")
    result = _run("run", "--landing", str(landing), "--warehouse", str(tmp_path / "wh.duckdb"), "--as-of", "2026-11-22")
    assert result.returncode == 1
    assert result.stdout.startswith("NOT PUBLISHED")
    assert "country_code" in result.stdout  # the missing required column, named
    assert not (tmp_path / "wh.duckdb").exists()
