"""The rules' dbt unit tests (`unit_tests:` in dbt_project/models/**/_*.yml), run by
dbt itself against a real DuckDB file, plus the configuration reaching the SQL."""

import re

import yaml

from conftest import run_dbt
from pipeline.dbt_project import DBT_PROJECT_DIR


def _declared_unit_tests() -> set[str]:
    names = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            names.add(test["name"])
    return names


def test_every_dbt_unit_test_runs_and_passes(empty_built_work_db):
    work_db, root = empty_built_work_db
    result = run_dbt(["test", "--select", "test_type:unit"], work_db, root / "target_unit")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    declared = _declared_unit_tests()
    passed = {m.group(1) for m in re.finditer(r"PASS \S+::(\S+)", output)}
    assert declared
    assert passed == declared, f"not run or not passed: {sorted(declared - passed)}"


def test_unknown_configuration_key_fails_compilation(empty_built_work_db, tmp_path):
    """A model asking for a key that is not in the configuration must not read null."""
    # --inline: nothing is written into the project, which a concurrent run may be parsing.
    work_db, _ = empty_built_work_db
    result = run_dbt(
        ["compile", "--inline", "select {{ cfg_number('dimensions.value_tier.no_such_key') }}"],
        work_db, tmp_path / "target",
    )
    assert result.returncode != 0
    assert "dimensions.value_tier.no_such_key" in result.stdout + result.stderr
