"""The rules' dbt unit tests (dbt_project/models/**/_*.yml `unit_tests:`), run by
dbt itself against a real DuckDB file, plus the configuration reaching the SQL."""

import re

from conftest import run_dbt


def test_every_dbt_unit_test_passes(empty_built_work_db):
    work_db, root = empty_built_work_db
    result = run_dbt(["test", "--select", "test_type:unit"], work_db, root / "target_unit")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"PASS=(\d+)", output)
    assert passed and int(passed.group(1)) >= 3 and "ERROR=0" in output, output


def test_unknown_configuration_key_fails_compilation(empty_built_work_db, tmp_path):
    """A model asking for a key that is not in the configuration must not read null."""
    from pipeline.dbt_project import DBT_PROJECT_DIR

    probe = DBT_PROJECT_DIR / "analyses"
    probe.mkdir(exist_ok=True)
    (probe / "probe_missing_key.sql").write_text("select {{ cfg_number('dimensions.value_tier.no_such_key') }}")
    try:
        work_db, _ = empty_built_work_db
        result = run_dbt(["compile", "--select", "probe_missing_key"], work_db, tmp_path / "target")
    finally:
        (probe / "probe_missing_key.sql").unlink()
        probe.rmdir()
    assert result.returncode != 0
    assert "dimensions.value_tier.no_such_key" in result.stdout + result.stderr
