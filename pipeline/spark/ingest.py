"""Ingestion on Spark: the landing files read by Spark itself into `raw.<source>__<entity>`.

The contract is the DuckDB loader's (pipeline/ingest/loader.py), and so is most of the
code: which files (pipeline.ingest.discover: snapshot = newest extract on or before the
as-of date, delta = every extract up to it), the checks on each file before anything is
read (pipeline.ingest.files.inspect_file: hash, UTF-8, header, required columns,
duplicated names, schema drift) run in the Dagster process; only the rows are read by
Spark, in this module, which runs in the Spark worker (pipeline/spark/worker.py).

Layout of a raw table (identical to DuckDB's): the entity's contract columns in contract
order, all `string`, values as delivered (not trimmed; an empty field, quoted or not, is
null as with DuckDB's `nullstr = ''` + `allow_quoted_nulls`), then `_file_name`
(landing-relative path), `_extract_date` (date, null for the overrides file) and
`_row_number` (1-based data row within its file). Typing, de-duplication and quarantine
stay in dbt.

CSV dialect (data contract): UTF-8, header row, comma, double quote, a quote doubled
inside a quoted field, line breaks allowed inside quotes. Spark reads it with
`multiLine` (a file is then never split, so its rows keep their order and the row
number is the position within the file), FAILFAST (a row with a wrong number of fields
or a stray quote stops the load, as DuckDB's strict mode does), positional columns (the
header was mapped to the contract by name in the inspection).

Not on Spark: the incremental reuse of unchanged files (`raw._loaded_files`); every
night reloads the selected files (the models rebuild their state on Spark anyway).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from pipeline.config.sources import EntitySpec
from pipeline.ingest.discovery import EntitySelection
from pipeline.ingest.errors import LandingError
from pipeline.ingest.files import FileInspection
from pipeline.ingest.loader import (
    META_COLUMNS,
    RAW_SCHEMA,
    FileLoad,
    LoadResult,
    _batches,
    _drift_warnings,
)
from pipeline.spark.session import session

CSV_OPTIONS = {
    "header": "true",  # skipped: columns are positional (the header was checked already)
    "enforceSchema": "true",
    "sep": ",",
    "quote": '"',
    "escape": '"',
    "encoding": "UTF-8",
    "multiLine": "true",
    "mode": "FAILFAST",
    "unescapedQuoteHandling": "RAISE_ERROR",
    "nullValue": "",
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
    "inferSchema": "false",
}
_GLOB = re.compile(r"([\[\]*?{}\\])")


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def raw_table(name: str) -> str:
    return f"{RAW_SCHEMA}.{_q(name)}"


def _hadoop_path(path) -> str:
    """A local path for Spark's readers: glob characters made literal."""
    return _GLOB.sub(r"\\\1", str(path))


def _schema(spec: EntitySpec):
    from pyspark.sql.types import DateType, LongType, StringType, StructField, StructType

    return StructType(
        [StructField(column, StringType()) for column in spec.columns]
        + [StructField("_file_name", StringType()), StructField("_extract_date", DateType()),
           StructField("_row_number", LongType())]
    )


def _spark_error_text(error: Exception) -> str:
    text = str(error).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("py4j", "at ", "JVM stacktrace")):
            return re.sub(r"^\[[A-Z_.]+\]\s*", "", line)[:400]
    return type(error).__name__


def _files_frame(spark, batch: list[FileInspection]):
    """(file name as Spark reports it, landing-relative path, extract date) of a batch."""
    rows = [(i.file.path.name, i.file.relative_path, i.file.extract_date) for i in batch]
    return spark.createDataFrame(rows, "_base_name string, _file_name string, _extract_date date")


def _csv_frame(spark, spec: EntitySpec, batch: list[FileInspection]):
    from pyspark.sql import functions as F
    from pyspark.sql import Window
    from pyspark.sql.types import StringType, StructField, StructType

    first = batch[0]
    positional = [f"c{i:05d}" for i in range(len(first.header))]
    schema = StructType([StructField(name, StringType()) for name in positional])
    scanned = (
        spark.read.format("csv").options(**CSV_OPTIONS).schema(schema)
        .load([_hadoop_path(i.file.path) for i in batch])
        .select("*", F.col("_metadata.file_name").alias("_base_name"),
                F.monotonically_increasing_id().alias("_scan_position"))
    )
    values = [
        F.expr(f"nullif({positional[first.mapping[c]]}, '')").alias(c) if c in first.mapping
        else F.lit(None).cast("string").alias(c)
        for c in spec.columns
    ]
    # A file is one unsplit partition read in line order (multiLine): its rows' scan
    # positions are consecutive, so the row number is the distance to its first row.
    by_file = Window.partitionBy("_base_name")
    return scanned.join(F.broadcast(_files_frame(spark, batch)), "_base_name").select(
        *values, "_file_name", "_extract_date",
        (F.col("_scan_position") - F.min("_scan_position").over(by_file) + 1).cast("bigint").alias("_row_number"),
    )


def float_text(value: float | None) -> str | None:
    """The shortest round-trip text of a float with any exponent written out: the
    DuckDB loader's `_float_text_sql` (1e-05 -> '0.00001', 1e+16 -> '10000000000000000')."""
    if value is None:
        return None
    text = repr(float(value))
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exponent = int(exponent)
    if abs(exponent) > 38:
        return text
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    digits = mantissa.replace(".", "")
    point = len(mantissa.split(".")[0]) + exponent
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits.ljust(point, "0")
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _parquet_value(column: str, data_type) -> Any:
    """A Parquet column as text, in the form a CSV extract would carry it (as the DuckDB loader does)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    col = F.col(_q(column))
    if isinstance(data_type, T.StringType):
        return col
    if isinstance(data_type, T.BinaryType):
        return col.cast("string")
    if isinstance(data_type, T.TimestampNTZType):
        return F.regexp_replace(col.cast("string"), " ", "T")
    if isinstance(data_type, T.TimestampType):  # instant; the session time zone is UTC
        return F.concat(F.regexp_replace(col.cast("string"), " ", "T"), F.lit("+00:00"))
    if isinstance(data_type, (T.DoubleType, T.FloatType)):
        return F.udf(float_text, T.StringType())(col)
    return col.cast("string")  # date, boolean, decimal, integers


def _parquet_frame(spark, spec: EntitySpec, insp: FileInspection):
    from pyspark.sql import functions as F

    frame = spark.read.parquet(_hadoop_path(insp.file.path))
    fields = {field.name: field.dataType for field in frame.schema.fields}
    values = []
    for c in spec.columns:
        if c in insp.mapping:
            name = insp.header[insp.mapping[c]]
            values.append(_parquet_value(name, fields[name]).alias(c))
        else:
            values.append(F.lit(None).cast("string").alias(c))
    return frame.select(
        *values,
        F.lit(insp.file.relative_path).alias("_file_name"),
        F.lit(insp.file.extract_date).cast("date").alias("_extract_date"),
        (F.col("_metadata.row_index") + 1).cast("bigint").alias("_row_number"),
    )


def load_entity(spec: EntitySpec, selection: EntitySelection, inspections: list[FileInspection]) -> LoadResult:
    """Replace `raw.<spec.name>` with exactly the rows of the inspected files (Spark worker)."""
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    frames = []
    for batch in _batches(inspections) if inspections else []:
        if batch[0].file.format == "parquet":
            frames.extend(_parquet_frame(spark, spec, insp) for insp in batch)
        else:
            # every CSV file with the same header layout in one scan
            frames.append(_csv_frame(spark, spec, batch))
    if frames:
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other)
    else:
        frame = spark.createDataFrame([], _schema(spec))
    table = raw_table(spec.name)
    try:
        frame.select(*(_q(c) for c in (*spec.columns, *META_COLUMNS))).write.mode("overwrite").format(
            "parquet"
        ).saveAsTable(table)
        counts = {name: int(rows) for name, rows in spark.sql(
            f"select _file_name, count(*) from {table} group by _file_name").collect()}
    except Exception as error:  # noqa: BLE001 - a readable LandingError, as with DuckDB
        text = _spark_error_text(error)
        culprit = next((i.file.relative_path for i in inspections if i.file.path.name in str(error)), None)
        where = culprit or f"{spec.source}/{spec.entity}"
        raise LandingError(
            f"{where}: cannot be read as {'CSV' if not culprit or culprit.endswith('.csv') else 'Parquet'} "
            f"by Spark: {text}; fix the file and deliver it again (expected: UTF-8, a header row, "
            "comma-separated fields, any field containing a comma, quote or line break enclosed in "
            'double quotes, a quote inside such a field doubled "")',
        ) from None
    loads = []
    for insp in inspections:
        rows = counts.get(insp.file.relative_path, 0)
        if insp.file.format == "csv" and rows == 0 and insp.has_data:
            raise LandingError(
                f"{insp.file.relative_path}: the file has content after its header but Spark read no row "
                "from it; check its line endings and quoting"
            )
        loads.append(FileLoad(
            relative_path=insp.file.relative_path, extract_date=insp.file.extract_date, format=insp.file.format,
            rows=rows, sha256=insp.sha256, size_bytes=insp.size_bytes, drift_columns=insp.drift_columns,
            missing_columns=insp.missing_columns,
        ))
    return LoadResult(
        spec=spec, table=f"{RAW_SCHEMA}.{spec.name}", as_of=selection.as_of, files=tuple(loads),
        warnings=tuple(selection.warnings) + tuple(_drift_warnings(spec, loads)),
        notes=tuple(selection.notes),
        ignored_later_files=tuple(f.relative_path for f in selection.future_files),
        superseded_files=tuple(f.relative_path for f in selection.superseded_files),
        max_age_days=spec.max_age_days,
    )


def _replace_table(spark, table: str, frame) -> int:
    frame.write.mode("overwrite").format("parquet").saveAsTable(table)
    return spark.table(table).count()


def write_run_context(row: dict[str, Any]) -> None:
    """raw.run_context: the one row of run parameters the models read (macros/config.sql)."""
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    frame = spark.createDataFrame(
        [(date.fromisoformat(str(row["as_of_date"])), str(row["run_id"]), str(row["ruleset_version"]))],
        "as_of_date date, run_id string, ruleset_version string",
    )
    _replace_table(spark, f"{RAW_SCHEMA}.run_context", frame)


def load_iso_countries(codes: list[str]) -> int:
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    frame = spark.createDataFrame([(code,) for code in codes], "country_code string")
    return _replace_table(spark, f"{RAW_SCHEMA}.reference__iso_countries", frame)


def copy_previous_publication(tables: dict[str, tuple[str, list[tuple[str, str]]]]) -> dict[str, int]:
    """raw.warehouse__<table> := the published view `analytics.<table>` (declared
    columns; one the publication lacks reads null), or empty before the first publication.
    `tables`: source table -> (published relation, [(column, data type)])."""
    spark = session()
    spark.sql(f"create database if not exists {RAW_SCHEMA}")
    counts = {}
    for table, (published, columns) in tables.items():
        published_columns: set[str] = set()
        if spark.catalog.tableExists(published):
            published_columns = {field.name for field in spark.table(published).schema.fields}
        select = ", ".join(
            f"cast({_q(name) if name in published_columns else 'null'} as {data_type}) as {_q(name)}"
            for name, data_type in columns
        )
        origin = f"from {published}" if published_columns else "from (select 1) as nothing where false"
        target = f"{RAW_SCHEMA}.warehouse__{table}"
        counts[table] = _replace_table(spark, target, spark.sql(f"select {select} {origin}"))
    return counts


def describe(relation: str) -> dict[str, Any]:
    """Columns, Spark types and row count of a table or view (for checks and tests)."""
    frame = session().table(relation)
    return {
        "columns": [field.name for field in frame.schema.fields],
        "types": [field.dataType.simpleString() for field in frame.schema.fields],
        "rows": frame.count(),
    }
