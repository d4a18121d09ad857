"""The pipeline's SparkSession, configured exactly like dbt's `spark` target.

The configuration is read from dbt_project/profiles.yml (`outputs.spark.
server_side_parameters`, rendered with the same environment variables), so the
ingestion, dbt and the publication use one metastore and one warehouse folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.dbt_project import DBT_PROJECT_DIR

PROFILE = "segmentation"
TARGET = "spark"
_ENV_VAR = re.compile(r"\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*\}\}")


class SparkUnavailable(RuntimeError):
    """Spark cannot start here (no Java, or pyspark not installed)."""


def _render(value: Any) -> str:
    """`{{ env_var('NAME', 'default') }}` as dbt renders it (the only Jinja the profile uses)."""

    def replace(match: re.Match) -> str:
        name, default = match[1], match[2]
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise KeyError(f"profiles.yml needs the environment variable {name}")
        return default

    return _ENV_VAR.sub(replace, str(value))


def spark_conf() -> dict[str, str]:
    """The `server_side_parameters` of the `spark` output of profiles.yml, rendered."""
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    output = profiles[PROFILE]["outputs"][TARGET]
    conf = {key: _render(value) for key, value in (output.get("server_side_parameters") or {}).items()}
    # dbt-spark forces non-ANSI mode on every session it opens: the same semantics here.
    conf["spark.sql.ansi.enabled"] = "false"
    conf["spark.app.name"] = "segmentation-pipeline"
    return conf


def java_problem() -> str | None:
    """Why a JVM cannot start here, or None."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return (
            "Spark needs Java 17 or 21 and none was found (no `java` on PATH, JAVA_HOME unset): install it, "
            "e.g. `apt-get install openjdk-17-jre-headless` (scripts/install_java.sh), or set JAVA_HOME"
        )
    try:
        subprocess.run([str(java), "-version"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"Spark needs Java, but `{java} -version` failed: {error}"
    return None


def require_spark() -> None:
    problem = java_problem()
    if problem:
        raise SparkUnavailable(problem)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(
            "the Spark target needs pyspark and dbt-spark: pip install -c constraints.txt -e '.[spark]'"
        ) from None


@cache
def session():
    """The process's SparkSession (Hive catalog), started on first use."""
    require_spark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def use_spark_home(spark_home: Path) -> None:
    """Point this process (and the Spark worker and dbt it starts) at `spark_home`:
    SEGMENTATION_SPARK_HOME, read by profiles.yml. A worker started for another home is
    ended first."""
    from pipeline.settings import _ENV_SPARK_HOME_SET_BY_RUN, ENV_SPARK_HOME

    spark_home = Path(spark_home).resolve()
    spark_home.mkdir(parents=True, exist_ok=True)
    if os.environ.get(ENV_SPARK_HOME) != str(spark_home):
        from pipeline.spark import worker

        worker.shutdown()
        os.environ[ENV_SPARK_HOME] = str(spark_home)
        os.environ[_ENV_SPARK_HOME_SET_BY_RUN] = str(spark_home)
