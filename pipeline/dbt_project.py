"""The one DbtProject of the code location, in its own module so that importing it
is cheap and the manifest can be prepared before the definitions load."""

import json
import os
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# dbt is installed beside this interpreter; the console script (or a scheduler) may
# call us without the virtual environment activated, so make it findable for every
# dbt invocation (dagster-dbt's resource and its manifest preparer look on PATH).
_INTERPRETER_BIN = Path(sys.executable).parent
if shutil.which("dbt") is None and (_INTERPRETER_BIN / "dbt").exists():
    os.environ["PATH"] = f"{_INTERPRETER_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
DBT_EXECUTABLE = shutil.which("dbt") or "dbt"

segmentation_dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
)

# Under `dagster dev` the manifest is (re)built on load; elsewhere it is prepared by
# `segmentation prepare` / `dagster-dbt project prepare-and-package` or on first run.
segmentation_dbt_project.prepare_if_dev()


def _newest_project_file_mtime() -> float:
    files = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        files.extend(path for path in (DBT_PROJECT_DIR / folder).rglob("*") if path.is_file())
    return max(path.stat().st_mtime for path in files if path.exists())


def ensure_manifest() -> Path:
    """Build the manifest when it is missing (fresh clone) or older than a project file."""
    manifest = segmentation_dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_project_file_mtime():
        segmentation_dbt_project.preparer.prepare(segmentation_dbt_project)
    return manifest


@cache
def manifest() -> dict[str, Any]:
    """The prepared manifest, read once per process (model relations, contract
    columns, source column types)."""
    return json.loads(ensure_manifest().read_text(encoding="utf-8"))
