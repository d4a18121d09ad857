"""One Dagster asset per extract entity (and the overrides, and the ISO country
reference): each loads its landing files into the raw schema of the run's working
database. Asset keys are taken from the dbt sources that read the raw tables, so the
lineage runs from each extract through every model to the published tables."""


import contextlib
import json

import dagster as dg
import duckdb
import pycountry
from dagster_dbt import get_asset_keys_by_output_name_for_source

from pipeline.config import EntitySpec, load_entity_specs
from pipeline.dbt_project import manifest
from pipeline.defs.resources import RunSettings
from pipeline.defs.transform import segmentation_dbt_models
from pipeline.ingest import LandingError, discover, load_entity
from pipeline.ingest.files import inspect_file
from pipeline.work_db import connect_work_db


def _source_asset_key(source: str, table: str) -> dg.AssetKey:
    keys = get_asset_keys_by_output_name_for_source([segmentation_dbt_models], source)
    for output_name, key in keys.items():
        if key.path[-1] == table or output_name.endswith(table):
            return key
    raise KeyError(f"dbt source {source}.{table} not found: declare it in dbt_project/models/staging/")


def _record_loaded_files(conn, run_id: str, spec: EntitySpec, result) -> None:
    """Which files (and hashes) this run read: the publication record lists them."""
    conn.execute("create schema if not exists audit")
    conn.execute("create table if not exists audit.loaded_files (run_id varchar, entity varchar, file varchar)")
    conn.execute("delete from audit.loaded_files where run_id = ? and entity = ?", [run_id, spec.name])
    if result.files:  # one statement: a delta entity has a file per day of history
        conn.execute(
            "insert into audit.loaded_files select ?, ?, unnest(?::varchar[])",
            [run_id, spec.name, [json.dumps(file.as_dict()) for file in result.files]],
        )


def _load_entity_on_spark(spec: EntitySpec, selection, paths):
    """Target `spark`: the same selection and file checks (header, required columns,
    UTF-8, hash) here, the rows read by Spark into raw.<entity> of its catalog."""
    from pipeline.spark import ingest as spark_ingest
    from pipeline.spark import worker
    from pipeline.spark.session import use_spark_home

    with contextlib.closing(duckdb.connect()) as conn:  # reads Parquet schemas only
        inspections = [inspect_file(conn, spec, file) for file in selection.files]
    use_spark_home(paths.spark_home)
    return worker.call(spark_ingest.load_entity, spec, selection, inspections)


def _build_entity_asset(spec: EntitySpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=_source_asset_key(spec.source, spec.entity),
        name=None,
        group_name="landing",
        kinds={"duckdb", "csv", "parquet"} if spec.load_mode != "file" else {"duckdb", "csv"},
        description=(
            f"Loads `{spec.source}/{spec.entity}` ({spec.load_mode}, key {', '.join(spec.key) or 'none'}) "
            f"from the landing folder into raw.{spec.name} of the working database."
        ),
        metadata={"load_mode": spec.load_mode, "key": ", ".join(spec.key)},
    )
    def _ingest(context: dg.AssetExecutionContext, run_settings: RunSettings) -> dg.MaterializeResult:
        paths = run_settings.paths()
        as_of = run_settings.as_of_date()
        if spec.load_mode == "file" and run_settings.overrides_named() and not paths.overrides_file.is_file():
            raise dg.Failure(
                description=f"the overrides file {paths.overrides_file} named by --overrides / "
                "SEGMENTATION_OVERRIDES does not exist; fix the path or leave it out",
                allow_retries=False,
            )
        try:
            selection = discover(paths.landing_dir, as_of, spec, overrides_file=paths.overrides_file)
            if run_settings.on_spark():
                result = _load_entity_on_spark(spec, selection, paths)
                with connect_work_db(paths.work_db) as conn:
                    _record_loaded_files(conn, context.run.run_id, spec, result)
            else:
                with connect_work_db(paths.work_db) as conn:
                    result = load_entity(conn, spec, selection)
                    _record_loaded_files(conn, context.run.run_id, spec, result)
        except LandingError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        for warning in result.warnings:
            context.log.warning(str(warning))
        context.log.info(f"{spec.source}/{spec.entity}: {result.rows} rows from {len(result.files)} file(s)")
        return dg.MaterializeResult(metadata=result.as_metadata())

    _ingest.__name__ = f"ingest_{spec.name}"
    return _ingest


entity_assets = [_build_entity_asset(spec) for spec in load_entity_specs()]


@dg.asset(
    key=_source_asset_key("reference", "iso_countries"),
    group_name="landing",
    kinds={"duckdb", "python"},
    description="Officially assigned ISO 3166-1 alpha-2 codes, from the maintained pycountry package.",
)
def iso_countries(run_settings: RunSettings) -> dg.MaterializeResult:
    codes = sorted(country.alpha_2 for country in pycountry.countries)
    if run_settings.on_spark():
        from pipeline.spark import ingest as spark_ingest
        from pipeline.spark import worker
        from pipeline.spark.session import use_spark_home

        use_spark_home(run_settings.paths().spark_home)
        rows = worker.call(spark_ingest.load_iso_countries, codes)
        return dg.MaterializeResult(metadata={"rows": rows, "pycountry": pycountry.__name__, "target": "spark"})
    with connect_work_db(run_settings.paths().work_db) as conn:
        conn.execute("create schema if not exists raw")
        conn.execute("create or replace table raw.reference__iso_countries (country_code varchar)")
        conn.executemany("insert into raw.reference__iso_countries values (?)", [[code] for code in codes])
    return dg.MaterializeResult(metadata={"rows": len(codes), "pycountry": pycountry.__name__})


WAREHOUSE_SOURCE = "warehouse"
# The published table each `warehouse` source table is copied from.
WAREHOUSE_TABLES = {"segment_history": "analytics.segment_history", "publications": "analytics.publications"}


def _warehouse_source_columns(table: str) -> list[tuple[str, str]]:
    """(name, type) of a `warehouse` source table, from its dbt YAML (the one place
    they are declared)."""
    for node in manifest()["sources"].values():
        if node["source_name"] == WAREHOUSE_SOURCE and node["name"] == table:
            return [(name, column["data_type"]) for name, column in node["columns"].items()]
    raise KeyError(f"dbt source {WAREHOUSE_SOURCE}.{table} not found: declare it in dbt_project/models/staging/warehouse/")


def copy_from_warehouse(conn: duckdb.DuckDBPyConnection, warehouse, table: str) -> int:
    """raw.warehouse__<table> := the published table (the declared columns; a column
    the published table does not have yet reads null), or empty without a warehouse."""
    columns = _warehouse_source_columns(table)
    target = f"raw.{WAREHOUSE_SOURCE}__{table}"
    published_columns: set[str] = set()
    if warehouse.is_file():
        conn.execute(f"attach '{warehouse.as_posix().replace(chr(39), chr(39) * 2)}' as published (read_only)")
        schema, name = WAREHOUSE_TABLES[table].split(".")
        published_columns = {
            column for (column,) in conn.execute(
                "select column_name from duckdb_columns() where database_name = 'published' "
                "and schema_name = ? and table_name = ?", [schema, name],
            ).fetchall()
        }
    try:
        select = ", ".join(
            f'cast({name if name in published_columns else "null"} as {data_type}) as {name}'
            for name, data_type in columns
        )
        origin = f"from published.{WAREHOUSE_TABLES[table]}" if published_columns else "where false"
        conn.execute(f"create or replace table {target} as select {select} {origin}")
        return conn.execute(f"select count(*) from {target}").fetchone()[0]
    finally:
        if warehouse.is_file():
            conn.execute("detach published")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _source_asset_key(WAREHOUSE_SOURCE, table),
            group_name="landing",
            kinds={"duckdb"},
            description=f"{published} of the analysts' warehouse as last published, copied into "
            f"raw.{WAREHOUSE_SOURCE}__{table} (empty when nothing is published yet): the history "
            "is carried from night to night through it.",
        )
        for table, published in WAREHOUSE_TABLES.items()
    ],
    name="previous_publication",
)
def previous_publication(run_settings: RunSettings):
    """Read-only: the warehouse is never written here (publication swaps it whole)."""
    paths = run_settings.paths()
    if run_settings.on_spark():
        # the published views analytics.<table> of the Spark catalog (pipeline/spark/publish.py)
        from pipeline.spark import ingest as spark_ingest
        from pipeline.spark import worker
        from pipeline.spark.session import use_spark_home

        use_spark_home(paths.spark_home)
        counts = worker.call(spark_ingest.copy_previous_publication, {
            table: (published, _warehouse_source_columns(table)) for table, published in WAREHOUSE_TABLES.items()
        })
        for table in WAREHOUSE_TABLES:
            yield dg.MaterializeResult(
                asset_key=_source_asset_key(WAREHOUSE_SOURCE, table),
                metadata={"dagster/row_count": counts[table], "spark_home": dg.MetadataValue.path(str(paths.spark_home))},
            )
        return
    with connect_work_db(paths.work_db) as conn:
        conn.execute("create schema if not exists raw")
        for table in WAREHOUSE_TABLES:
            rows = copy_from_warehouse(conn, paths.warehouse, table)
            yield dg.MaterializeResult(
                asset_key=_source_asset_key(WAREHOUSE_SOURCE, table),
                metadata={"dagster/row_count": rows, "warehouse": dg.MetadataValue.path(str(paths.warehouse))},
            )


ingestion_assets = [*entity_assets, iso_countries, previous_publication]
