"""`segmentation docs`: dbt's documentation site of the models and columns, built
against the run's working database (so the catalog has every column and type), as
one self-contained page beside the warehouse that analysts open in a browser."""

import json
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

from pipeline.config import SegmentationConfig
from pipeline.dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR
from pipeline.settings import RunPaths


class DocsError(RuntimeError):
    """dbt could not generate the documentation."""


def docs_dir(paths: RunPaths) -> Path:
    return paths.warehouse.parent / f"{paths.warehouse.stem}.docs"


def generate_docs(paths: RunPaths, config: SegmentationConfig, as_of: date) -> Path:
    """Run `dbt docs generate --static` on the working database; returns the page.

    The working database holds the models of the last run (build one first); the
    configuration is passed as for a run, because the models read it when compiling."""
    if not paths.work_db.is_file():
        raise DocsError(
            f"no working database at {paths.work_db}: run `segmentation run` with this warehouse first"
        )
    target = paths.work_dir / "docs-target"
    env = {
        **os.environ,
        "SEGMENTATION_WORK_DB": str(paths.work_db),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        DBT_EXECUTABLE, "docs", "generate", "--static",
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", json.dumps(config.dbt_vars(as_of, "docs")),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DocsError(f"dbt docs generate failed:\n{(result.stdout + result.stderr)[-3000:]}")
    out = docs_dir(paths)
    out.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    shutil.copyfile(target / "static_index.html", page)
    for name in ("manifest.json", "catalog.json"):
        shutil.copyfile(target / name, out / name)
    return page
