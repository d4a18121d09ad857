"""Write-audit-publish on the Spark catalog (runs in the Spark worker).

- write: dbt builds into the databases `staging`, `intermediate`, `marts` (nobody reads
  them); `stage_and_audit` copies the tables to publish into a database of their own,
  `analytics_<run>` (one per run, complete before anything points at it);
- audit: the gate runs on exactly those staged tables: the great-expectations suite on
  Spark (data_checks/spark.py), the quarantine share, the row-count drop against the
  last publication; the warnings as in the DuckDB gate. The verdict is recorded by the
  Dagster process (audit.gate_results of the run's working file, as on DuckDB), and the
  publish step refuses a run without a passing verdict;
- publish: `publish` writes `analytics_<run>.publications` (the previous rows plus this
  one) and re-points every view `analytics.<table>` to `analytics_<run>.<table>`, the
  publications view last. Each view swap is one metastore operation, atomic for its
  table; a reader who needs several tables of one publication reads
  `analytics.publications` for the current run and queries `analytics_<run>.*`.
  The database of the previous publication is kept (rollback, readers mid-query);
  older run databases are dropped.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from typing import Any

from pipeline.publish import CheckOutcome, quarantine_share_check, row_count_drop_check
from pipeline.spark.session import session

PUBLISHED_DATABASE = "analytics"
PUBLICATIONS = "publications"
KEEP_PUBLICATIONS = 30
TO_BE_DEFINED = "to_be_defined"


def run_database(run_id: str) -> str:
    """`analytics_<run id>`: where one run's publication is staged and stays."""
    return f"{PUBLISHED_DATABASE}_{re.sub(r'[^0-9a-z]', '_', run_id.lower())}"


def _exists(spark, relation: str) -> bool:
    return spark.catalog.tableExists(relation)


def _previous_rows_published(spark) -> int | None:
    relation = f"{PUBLISHED_DATABASE}.{PUBLICATIONS}"
    if not _exists(spark, relation):
        return None
    row = spark.sql(f"select rows_published from {relation} order by published_at desc limit 1").collect()
    return int(row[0][0]) if row else None


def stage(run_id: str, tables: dict[str, str]) -> str:
    """Copy each built table (`name -> database.table`) into `analytics_<run>.<name>`."""
    spark = session()
    database = run_database(run_id)
    spark.sql(f"drop database if exists {database} cascade")
    spark.sql(f"create database {database}")
    for name, relation in tables.items():
        spark.sql(f"create table {database}.{name} using parquet as select * from {relation}")
    return database


def _gate_warnings(spark, database: str, accounts: str, kpis: str, overrides_relation: str,
                   dimensions: list[str], to_be_defined_share: float, share_move: float) -> list[CheckOutcome]:
    warnings = []
    # to_be_defined share per dimension
    if dimensions:
        shares = ", ".join(f"avg(cast({d} = '{TO_BE_DEFINED}' as int)) as {d}" for d in dimensions)
        row = spark.sql(f"select {shares} from {database}.{accounts}").collect()[0]
        over = {d: round(float(row[d]), 4) for d in dimensions if row[d] is not None and row[d] > to_be_defined_share}
    else:
        over = {}
    if over:
        listed = ", ".join(f"{name} {share:.1%}" for name, share in over.items())
        warnings.append(CheckOutcome("to_be_defined_share", False,
                                     f"to_be_defined above {to_be_defined_share:.0%}: {listed}", examples=[over]))
    else:
        warnings.append(CheckOutcome("to_be_defined_share", True,
                                     f"no dimension has more than {to_be_defined_share:.0%} to_be_defined"))
    # invalid overrides
    invalid = spark.sql(
        f"""select _row_number, account_id, dimension, segment, status from {overrides_relation}
            where status like 'invalid%' order by _row_number"""
    ).collect()
    applied = spark.sql(f"select count(*) from {overrides_relation} where status = 'applied'").collect()[0][0]
    if invalid:
        examples = [{"row": r[0], "account_id": r[1], "dimension": r[2], "segment": r[3], "status": r[4]}
                    for r in invalid[:10]]
        listed = "; ".join(f"row {e['row']} ({e['account_id']}, {e['dimension']}): {e['status']}" for e in examples)
        warnings.append(CheckOutcome("overrides_valid", False,
                                     f"{len(invalid)} invalid override row(s) not applied ({applied} applied): {listed}",
                                     examples=examples))
    else:
        warnings.append(CheckOutcome("overrides_valid", True, f"{applied} override(s) applied, none invalid"))
    # segment share moves
    moves = spark.sql(
        f"""select dimension, segment, previous_share_of_accounts, share_of_accounts, share_of_accounts_change
            from {database}.{kpis} where abs(share_of_accounts_change) > {float(share_move)!r}
            order by abs(share_of_accounts_change) desc, dimension, segment"""
    ).collect()
    if moves:
        examples = [{"dimension": d, "segment": s, "previous_share": b, "share": n, "change_points": round(c * 100, 2)}
                    for d, s, b, n, c in moves]
        listed = ", ".join(f"{e['dimension']}={e['segment']} {e['previous_share']:.1%} -> {e['share']:.1%}"
                           for e in examples[:10])
        warnings.append(CheckOutcome(
            "segment_share_moves", False,
            f"{len(moves)} segment share(s) moved by more than {share_move * 100:g} points since the previous "
            f"publication (the business changed or the data broke): {listed}", examples=examples[:20]))
    else:
        warnings.append(CheckOutcome("segment_share_moves", True,
                                     f"no segment's share of accounts moved by more than {share_move * 100:g} points"))
    return warnings


def stage_and_audit(
    run_id: str,
    tables: dict[str, str],
    *,
    accounts: str,
    kpis: str,
    accounts_validated: str,
    overrides_evaluated: str,
    input_row_outcomes: str,
    mandatory_columns: list[str],
    declared_segments: dict[str, list[str]],
    max_quarantined_account_share: float,
    max_row_count_drop: float,
    allow_row_drop: bool,
    to_be_defined_share: float,
    share_move: float,
) -> dict[str, Any]:
    """Write (stage) and audit. Returns the blocking outcomes, the warnings (as dicts),
    the staged database and the run's quarantine/exclusion ledger."""
    from data_checks.spark import validate_segmented_accounts_spark

    spark = session()
    database = stage(run_id, tables)
    suite = validate_segmented_accounts_spark(
        spark, f"{database}.{accounts}", mandatory_columns=mandatory_columns, declared_segments=declared_segments
    )
    quarantined, total = spark.sql(
        f"""select count(distinct case when quarantine_reason is not null then account_id end),
                   count(distinct account_id) from {accounts_validated}"""
    ).collect()[0]
    examples = spark.sql(
        f"""select account_id, quarantine_reason from {accounts_validated}
            where quarantine_reason is not null and account_id is not null order by account_id limit 5"""
    ).collect()
    rows = spark.table(f"{database}.{accounts}").count()
    outcomes = [
        CheckOutcome("segmented_accounts_suite", suite.success, suite.summary(),
                     examples=[e.to_dict() for e in suite.failures]),
        quarantine_share_check(int(quarantined), int(total), max_quarantined_account_share,
                               examples=[{"account_id": a, "reason": r} for a, r in examples]),
        row_count_drop_check(rows, _previous_rows_published(spark), max_row_count_drop, allowed=allow_row_drop),
    ]
    warnings = _gate_warnings(spark, database, accounts, kpis, overrides_evaluated, list(declared_segments),
                              to_be_defined_share, share_move)
    ledger = [
        (outcome, reason, int(count)) for outcome, reason, count in spark.sql(
            f"select outcome, reason, sum(row_count) from {input_row_outcomes} "
            "where outcome <> 'used' group by outcome, reason").collect()
    ]
    return {
        "database": database,
        "outcomes": [o.to_dict() for o in outcomes],
        "warnings": [w.to_dict() for w in warnings],
        "ledger": ledger,
        "rows": rows,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def publish(run_id: str, names: list[str], publication: dict[str, Any],
            keep_publications: int = KEEP_PUBLICATIONS) -> dict[str, int]:
    """Re-point `analytics.<name>` to the staged `analytics_<run>.<name>` (audited by
    the caller's gate) and record the publication. Returns row counts per table."""
    spark = session()
    database = run_database(run_id)
    missing = [name for name in names if not _exists(spark, f"{database}.{name}")]
    if missing:
        raise RuntimeError(f"run {run_id} has no staged table(s) {', '.join(missing)} in {database}: nothing published")
    counts = {name: spark.table(f"{database}.{name}").count() for name in names}
    row = (
        run_id,
        date.fromisoformat(str(publication["as_of_date"])),
        str(publication["ruleset_version"]),
        json.dumps(_jsonable(publication.get("input_files") or []), sort_keys=True),
        int(counts.get("segmented_accounts", 0)),
        int(counts.get("quarantine", 0)),
        json.dumps(_jsonable(publication.get("check_results") or []), sort_keys=True),
        datetime.now(timezone.utc).replace(tzinfo=None),
    )
    schema = ("run_id string, as_of_date date, ruleset_version string, input_files string, rows_published bigint, "
              "rows_quarantined bigint, check_results string, published_at timestamp")
    new = spark.createDataFrame([row], schema)
    previous_view = f"{PUBLISHED_DATABASE}.{PUBLICATIONS}"
    history = new
    if _exists(spark, previous_view):
        history = spark.table(previous_view).where(f"run_id <> '{run_id}'").select(*new.columns).unionByName(new)
    history.orderBy("published_at", ascending=False).limit(keep_publications).write.format("parquet").saveAsTable(
        f"{database}.{PUBLICATIONS}"
    )
    previous_database = None
    spark.sql(f"create database if not exists {PUBLISHED_DATABASE}")
    if _exists(spark, previous_view):
        current = spark.sql(f"select run_id from {previous_view} order by published_at desc limit 1").collect()
        previous_database = run_database(current[0][0]) if current else None
    for name in [*names, PUBLICATIONS]:  # the publication record last: it names what is published
        spark.sql(f"create or replace view {PUBLISHED_DATABASE}.{name} as select * from {database}.{name}")
    keep = {database, previous_database}
    for (db,) in spark.sql("show databases").collect():
        if db.startswith(f"{PUBLISHED_DATABASE}_") and db not in keep:
            spark.sql(f"drop database if exists {db} cascade")
    counts[PUBLICATIONS] = spark.table(f"{database}.{PUBLICATIONS}").count()
    return counts


def published_table(name: str) -> list[dict[str, Any]]:
    """The rows of `analytics.<name>` as dicts (small tables, e.g. for the command line)."""
    return [row.asDict() for row in session().table(f"{PUBLISHED_DATABASE}.{name}").collect()]
