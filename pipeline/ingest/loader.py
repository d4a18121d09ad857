"""Load the selected files of one entity into its raw table, `raw.<source>__<entity>`.

The raw table holds every row of every selected file, values as delivered (all
VARCHAR, not trimmed): typing, de-duplication and validation happen in dbt staging.
Layout: the contract columns of the entity in contract order, then `_file_name`
(landing-relative path), `_extract_date` (DATE, null for the overrides file) and
`_row_number` (1-based data row number within its file, the header not counted).

Rows are read by DuckDB's own CSV and Parquet readers (quote-free CSV files of one
layout many at a time, several scans in parallel) into `raw.<entity>__loading`; the raw
table then changes in one transaction: a file that fails leaves the previous raw table
untouched.

Incremental nights: `raw._loaded_files` records which files (path, size, modification
time, hash, rows) the raw table holds. The next load keeps the rows of every selected
file whose path, size and modification time are unchanged (it is neither read nor
hashed again), deletes the rows of files no longer selected or changed, and loads only
the others; the result is the table a full load would build. A changed column contract
rebuilds the table.
Nothing from a file (path, header text) is pasted into SQL: paths and values are
bound parameters, CSV columns are addressed by generated positional names, and the
only file-derived identifiers (Parquet columns matched to a contract column) are
quoted.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from pipeline.config.sources import EntitySpec
from pipeline.ingest.discovery import EntitySelection
from pipeline.ingest.errors import LandingError, LandingWarning
from pipeline.ingest.files import FileInspection, duckdb_path, inspect_file, parquet_problem
from pipeline.ingest.freshness import ExtractFreshness

RAW_SCHEMA = "raw"
META_COLUMNS = ("_file_name", "_extract_date", "_row_number")
LEDGER_TABLE = f"{RAW_SCHEMA}._loaded_files"
METADATA_FILES = 20

# The CSV dialect of the data contract, spelled out: nothing is sniffed. In DuckDB 2.0
# `new_line` must stay unset (auto): an explicit new_line='\r\n' or '\n' that does not
# match the file silently returns zero rows.
CSV_OPTIONS = (
    "header = true, all_varchar = true, auto_detect = false, delim = ',', quote = '\"', "
    "escape = '\"', encoding = 'utf-8', strict_mode = true, null_padding = false, "
    "ignore_errors = false, allow_quoted_nulls = true, nullstr = '', skip = 0, "
    "compression = 'none', parallel = true"
)
PARQUET_OPTIONS = "binary_as_string = true, file_row_number = true"
# The files a load reads go to raw.<entity>__loading first (see load_entity).
LOADING_SUFFIX = "__loading"
# A batch of many files is read as this many scans per worker thread, so that the
# threads finish together although files differ in size.
SCANS_PER_WORKER = 4


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_table_name(spec: EntitySpec) -> str:
    """The raw table, quoted for SQL: raw."crm__accounts"."""
    return f"{quote_ident(RAW_SCHEMA)}.{quote_ident(spec.name)}"


@dataclass(frozen=True)
class FileLoad:
    relative_path: str
    extract_date: date | None
    format: str
    rows: int
    sha256: str
    size_bytes: int
    drift_columns: tuple[str, ...]
    missing_columns: tuple[str, ...]  # optional contract columns absent from the file: null

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.relative_path,
            "extract_date": self.extract_date.isoformat() if self.extract_date else None,
            "format": self.format,
            "rows": self.rows,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "drift_columns": list(self.drift_columns),
            "missing_columns": list(self.missing_columns),
        }


@dataclass(frozen=True)
class LoadResult(ExtractFreshness):
    spec: EntitySpec
    table: str  # unquoted, e.g. raw.finance__invoices
    as_of: date
    files: tuple[FileLoad, ...]
    warnings: tuple[LandingWarning, ...]
    notes: tuple[LandingWarning, ...]  # severity info (extracts after the as-of date)
    ignored_later_files: tuple[str, ...]
    superseded_files: tuple[str, ...]  # snapshot: older extracts not read
    max_age_days: int | None
    reused_files: int = 0  # files whose rows the raw table already held (not read again)

    @property
    def entity(self) -> str:
        return f"{self.spec.source}/{self.spec.entity}"

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def as_metadata(self) -> dict[str, Any]:
        """Plain JSON-able values, e.g. for Dagster asset metadata."""
        newest = self.newest_extract_date
        return {
            "entity": self.entity,
            "table": self.table,
            "load_mode": self.spec.load_mode,
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "file_count": len(self.files),
            "files_reused": self.reused_files,
            "newest_extract_date": newest.isoformat() if newest else None,
            "extract_age_days": self.extract_age_days,
            "max_age_days": self.max_age_days,
            "stale": self.is_stale,
            # the newest files; every file with its hash is in the publication record
            # (analytics.publications.input_files): a delta entity has one per day of history
            "files": [f.as_dict() for f in self.files[-METADATA_FILES:]],
            "drift_columns": sorted({c for f in self.files for c in f.drift_columns}),
            "warning_count": len(self.warnings),
            "warnings": [w.message for w in self.warnings],
            "warning_details": [w.as_dict() for w in self.warnings],
            "ignored_later_files": list(self.ignored_later_files),
            "superseded_files": list(self.superseded_files),
        }


# --- SQL -----------------------------------------------------------------------------

def _loading_table_name(spec: EntitySpec) -> str:
    """Where the files read by a load go before they join the raw table (quoted)."""
    return f"{quote_ident(RAW_SCHEMA)}.{quote_ident(spec.name + LOADING_SUFFIX)}"


def _create_table_sql(spec: EntitySpec, table: str) -> str:
    columns = [f"{quote_ident(c)} VARCHAR" for c in spec.columns]
    columns += ["_file_name VARCHAR", "_extract_date DATE", "_row_number BIGINT"]
    return f"CREATE OR REPLACE TABLE {table} ({', '.join(columns)})"


def _insert_prefix(spec: EntitySpec, table: str) -> str:
    names = ", ".join(quote_ident(c) for c in (*spec.columns, *META_COLUMNS))
    return f"INSERT INTO {table} ({names})"


def _csv_columns(spec: EntitySpec, insp: FileInspection) -> tuple[str, list[str]]:
    """read_csv's `columns` (generated positional names, all VARCHAR) and the select
    expression of each contract column (null when the file lacks it)."""
    positional = [f"c{i:05d}" for i in range(len(insp.header))]
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in positional) + "}"
    exprs = [positional[insp.mapping[c]] if c in insp.mapping else "CAST(NULL AS VARCHAR)" for c in spec.columns]
    return columns, exprs


def _csv_insert_sql(spec: EntitySpec, insp: FileInspection, table: str) -> str:
    columns, exprs = _csv_columns(spec, insp)
    return (
        f"{_insert_prefix(spec, table)} SELECT {', '.join(exprs)}, CAST($file_name AS VARCHAR), "
        "CAST($extract_date AS DATE), CAST(row_number() OVER () AS BIGINT) "
        f"FROM read_csv($path, {CSV_OPTIONS}, columns = {columns})"
    )


def _csv_batch_insert_sql(spec: EntitySpec, insp: FileInspection, table: str) -> str:
    """One scan of many CSV files that share a header layout. Rows come in file order
    and, within a file, in line order (preserve_insertion_order): a file's row number is
    its rows' position in the scan minus the rows of the files before it, known from
    their line counts (a window over the file name costs more than the read itself)."""
    columns, exprs = _csv_columns(spec, insp)
    return (
        f"{_insert_prefix(spec, table)} SELECT {', '.join(exprs)}, files.file_name, files.extract_date, "
        "CAST(scan_position - files.rows_before AS BIGINT) "
        f"FROM (SELECT *, row_number() OVER () AS scan_position "
        f"      FROM read_csv($paths, {CSV_OPTIONS}, columns = {columns}, filename = true)) AS scanned "
        "JOIN (SELECT unnest($real_paths) AS real_path, unnest($file_names) AS file_name, "
        "             unnest($extract_dates) AS extract_date, unnest($rows_before) AS rows_before) AS files "
        "ON scanned.filename = files.real_path"
    )


def _parquet_value_sql(column: str, duckdb_type: str) -> str:
    """A Parquet column as text, in the form a CSV extract would carry it."""
    col = quote_ident(column)
    t = duckdb_type.upper()
    if t == "VARCHAR":
        return col
    if t in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return f"replace(CAST(timezone('UTC', {col}) AS VARCHAR), ' ', 'T') || '+00:00'"
    if t.startswith("TIMESTAMP"):  # TIMESTAMP, TIMESTAMP_S/_MS/_NS
        return f"replace(CAST({col} AS VARCHAR), ' ', 'T')"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return _float_text_sql(col)
    return f"CAST({col} AS VARCHAR)"  # DATE -> YYYY-MM-DD, BOOLEAN -> true/false, DECIMAL, integers


def _float_text_sql(col: str) -> str:
    """DuckDB's shortest round-trip text of a float, with any exponent written out.

    `CAST(1e-05 AS VARCHAR)` is '1e-05'; this gives '0.00001' (and '1e+16' gives
    '10000000000000000'), moving the decimal point in the text itself: a detour
    through DECIMAL is not exact (1e16 -> DECIMAL(38,18) gives 9999999999999999.455...).
    Exponents beyond +-38 keep the exponent form.
    """
    s = f"CAST({col} AS VARCHAR)"
    exponent = f"TRY_CAST(split_part({s}, 'e', 2) AS INTEGER)"
    mantissa = f"ltrim(split_part({s}, 'e', 1), '-')"
    digits = f"replace({mantissa}, '.', '')"
    point = f"CAST(length(split_part({mantissa}, '.', 1)) + {exponent} AS INTEGER)"  # digits before the point
    sign = f"CASE WHEN starts_with({s}, '-') THEN '-' ELSE '' END"
    return (
        f"CASE WHEN NOT contains({s}, 'e') OR abs({exponent}) > 38 THEN {s} "
        f"ELSE {sign} || CASE WHEN {point} <= 0 THEN '0.' || repeat('0', -{point}) || {digits} "
        f"WHEN {point} >= length({digits}) THEN rpad({digits}, {point}, '0') "
        f"ELSE left({digits}, {point}) || '.' || substr({digits}, {point} + 1) END END"
    )


def _parquet_insert_sql(spec: EntitySpec, insp: FileInspection, table: str) -> str:
    exprs = []
    for c in spec.columns:
        if c in insp.mapping:
            position = insp.mapping[c]
            exprs.append(_parquet_value_sql(insp.duckdb_names[position], insp.duckdb_types[position]))
        else:
            exprs.append("CAST(NULL AS VARCHAR)")
    if any(name.lower() == "file_row_number" for name in insp.duckdb_names):
        # a data column shadows the reader's row number: number rows in scan order instead
        options, row_number = "binary_as_string = true", "row_number() OVER ()"
    else:
        options, row_number = PARQUET_OPTIONS, "file_row_number + 1"
    return (
        f"{_insert_prefix(spec, table)} SELECT {', '.join(exprs)}, CAST($file_name AS VARCHAR), "
        f"CAST($extract_date AS DATE), CAST({row_number} AS BIGINT) FROM read_parquet($path, {options})"
    )


# --- errors from DuckDB's CSV reader ---------------------------------------------------

_CSV_FIX = (
    "fix the file and deliver it again (expected: UTF-8, a header row, comma-separated fields, any field "
    'containing a comma, quote or line break enclosed in double quotes, a quote inside such a field doubled "")'
)


def _csv_problem(insp: FileInspection, exc: duckdb.Error) -> LandingError:
    """A readable LandingError from a DuckDB CSV error; row contents are not repeated."""
    text = str(exc)
    rel = insp.file.relative_path
    match = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(match[1]) if match else None
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        problem = (
            f"a row has {columns[2]} fields where the header has {columns[1]} "
            "(an unquoted comma inside a value, or a missing field?)"
        )
    elif "unterminated quote" in text:
        problem = "a quoted field is not closed, or text follows its closing quote"
    elif "Invalid unicode" in text:
        problem = "not valid UTF-8"
    elif "state machine reached an invalid state" in text:
        problem = "the file is not RFC 4180 CSV in the expected dialect"
        if insp.mixed_line_endings:
            problem += " (it mixes CRLF and LF line endings: use one kind throughout)"
    elif re.search(r"maximum line size", text, re.IGNORECASE):
        problem = "a row is longer than the reader's maximum line size (an unclosed quote?)"
    else:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        problem = re.sub(r"^[A-Za-z ]*Error: ", "", first)[:300]
    where = f" at line {line}" if line else ""
    return LandingError(f"{rel}: cannot be read as CSV{where}: {problem}; {_CSV_FIX}", file=rel, line=line)


# --- loading -----------------------------------------------------------------------------

def _load_file(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, insp: FileInspection, table: str) -> int:
    file = insp.file
    params = {
        "path": duckdb_path(file.path),
        "file_name": file.relative_path,
        "extract_date": file.extract_date,
    }
    sql = _parquet_insert_sql(spec, insp, table) if file.format == "parquet" else _csv_insert_sql(spec, insp, table)
    try:
        row = conn.execute(sql, params).fetchone()
    except duckdb.Error as exc:
        if file.format == "parquet":
            raise parquet_problem(file, exc) from None
        raise _csv_problem(insp, exc) from None
    rows = int(row[0]) if row else 0
    if file.format == "csv" and rows == 0 and insp.has_data:
        # a guard against a reader silently returning nothing for a file with content
        raise LandingError(
            f"{file.relative_path}: the file has content after its header but no row could be read; "
            f"check its line endings and quoting; {_CSV_FIX}",
            file=file.relative_path,
        )
    return rows


def _batchable(insp: FileInspection) -> bool:
    # DuckDB 2.0's multi-file CSV scan can drop a last record whose quote never closes
    # (seen with ten or more files) instead of failing: only files without any quote
    # character, whose row count is known from their bytes, are read together.
    return insp.file.format == "csv" and insp.unquoted_data_rows is not None and not insp.mixed_line_endings


def _batches(inspections: list[FileInspection]) -> list[list[FileInspection]]:
    """Consecutive quote-free CSV files with the same header layout form one batch;
    any other file is a batch of its own (read alone, as before batching existed)."""
    batches: list[list[FileInspection]] = []
    for insp in inspections:
        layout = (insp.header, tuple(sorted(insp.mapping.items())))
        previous = batches[-1][-1] if batches else None
        if (
            previous is not None
            and _batchable(insp)
            and _batchable(previous)
            and (previous.header, tuple(sorted(previous.mapping.items()))) == layout
        ):
            batches[-1].append(insp)
        else:
            batches.append([insp])
    return batches


def _load_batch(
    conn: duckdb.DuckDBPyConnection, spec: EntitySpec, batch: list[FileInspection], table: str
) -> dict[str, int]:
    """Rows per file of a batch, loaded into `table` by one scan. A file that cannot be
    read stops the load with its name and line, as when files are read one by one."""
    if len(batch) == 1:
        return {batch[0].file.relative_path: _load_file(conn, spec, batch[0], table)}
    names = [insp.file.relative_path for insp in batch]
    params = {
        "paths": [duckdb_path(insp.file.path) for insp in batch],
        "real_paths": [str(insp.file.path) for insp in batch],
        "file_names": names,
        "extract_dates": [insp.file.extract_date for insp in batch],
        "rows_before": list(itertools.accumulate((insp.unquoted_data_rows for insp in batch[:-1]), initial=0)),
    }
    try:
        conn.execute(_csv_batch_insert_sql(spec, batch[0], table), params)
    except duckdb.Error as exc:
        # DuckDB names the file it was reading; the transaction is aborted either way
        named = re.search(r"^\s*file = (.+)$", str(exc), re.MULTILINE)
        culprit = next((i for i in batch if named and str(i.file.path) == named[1].strip()), None)
        if culprit is None:
            raise LandingError(
                f"{spec.source}/{spec.entity}: one of {len(batch)} files ({names[0]} .. {names[-1]}) cannot be "
                f"read as CSV: {str(exc).strip().splitlines()[0]}; {_CSV_FIX}",
                file=names[0],
            ) from None
        raise _csv_problem(culprit, exc) from None
    counts = dict(conn.execute(
        f"""SELECT _file_name, count(*) FROM {table}
            WHERE _file_name IN (SELECT unnest(?::VARCHAR[])) GROUP BY _file_name""",
        [names],
    ).fetchall())
    # Every file must give exactly its lines as rows; when one does not (blank lines,
    # say), the row numbers of the files after it are off too: the batch is read again
    # file by file, which either explains the difference or accepts it as before.
    if any(counts.get(insp.file.relative_path, 0) != insp.unquoted_data_rows for insp in batch):
        doubtful = batch
        conn.execute(
            f"DELETE FROM {table} WHERE _file_name IN (SELECT unnest(?::VARCHAR[]))",
            [[insp.file.relative_path for insp in doubtful]],
        )
        for insp in doubtful:
            counts[insp.file.relative_path] = _load_file(conn, spec, insp, table)
    return {name: int(counts.get(name, 0)) for name in names}


def _drift_warnings(spec: EntitySpec, loads: list[FileLoad]) -> list[LandingWarning]:
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for load in loads:
        if load.drift_columns:
            groups[load.drift_columns].append(load.relative_path)
    warnings = []
    for columns, paths in groups.items():
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        warnings.append(
            LandingWarning(
                "schema_drift",
                f"{spec.source}/{spec.entity}: schema drift: unknown column(s) "
                f"{', '.join(repr(c) for c in columns)} ignored in {shown}",
                tuple(paths),
                columns,
            )
        )
    return warnings


def _columns_signature(spec: EntitySpec) -> str:
    return "\x1f".join(spec.columns)


def _file_stat(path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def _previous_loads(conn: duckdb.DuckDBPyConnection, spec: EntitySpec) -> dict[str, tuple] | None:
    """What the raw table holds now, by file: None when it must be rebuilt."""
    exists = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name IN (?, '_loaded_files')",
        [RAW_SCHEMA, spec.name],
    ).fetchone()[0]
    if exists < 2:
        return None
    rows = conn.execute(
        f"""SELECT relative_path, size_bytes, mtime_ns, sha256, extract_date, format, rows, drift_columns,
                   missing_columns, columns_signature
            FROM {LEDGER_TABLE} WHERE entity = ?""",
        [spec.name],
    ).fetchall()
    if not rows or any(row[-1] != _columns_signature(spec) for row in rows):
        return None
    return {row[0]: row[1:-1] for row in rows}


def _record_ledger(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, stats: dict[str, tuple[int, int]],
                   loads: list[FileLoad]) -> None:
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (
                entity VARCHAR, relative_path VARCHAR, size_bytes BIGINT, mtime_ns BIGINT, sha256 VARCHAR,
                extract_date DATE, format VARCHAR, rows BIGINT, drift_columns VARCHAR[],
                missing_columns VARCHAR[], columns_signature VARCHAR)"""
    )
    conn.execute(f"DELETE FROM {LEDGER_TABLE} WHERE entity = ?", [spec.name])
    if not loads:
        return
    # one statement for all files (executemany costs a round trip per file)
    conn.execute(
        f"""INSERT INTO {LEDGER_TABLE}
            SELECT ?, unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[]),
                   unnest(?::DATE[]), unnest(?::VARCHAR[]), unnest(?::BIGINT[]), unnest(?::VARCHAR[][]),
                   unnest(?::VARCHAR[][]), ?""",
        [
            spec.name,
            [load.relative_path for load in loads],
            [stats[load.relative_path][0] for load in loads],
            [stats[load.relative_path][1] for load in loads],
            [load.sha256 for load in loads],
            [load.extract_date for load in loads],
            [load.format for load in loads],
            [load.rows for load in loads],
            [list(load.drift_columns) for load in loads],
            [list(load.missing_columns) for load in loads],
            _columns_signature(spec),
        ],
    )


def _scans(inspections: list[FileInspection], workers: int) -> list[list[FileInspection]]:
    """The batches, a batch of many files cut into consecutive parts (one scan each)."""
    scans = []
    for batch in _batches(inspections):
        parts = min(len(batch), workers * SCANS_PER_WORKER) if workers > 1 else 1
        size = -(-len(batch) // parts)
        scans.extend(batch[i:i + size] for i in range(0, len(batch), size))
    return scans


def _read_files(
    conn: duckdb.DuckDBPyConnection, spec: EntitySpec, inspections: list[FileInspection], table: str
) -> dict[str, int]:
    """Rows per file, read into `table`. In parallel, each worker thread runs whole scans
    on its own connection: a scan numbers its rows with a streaming window, which runs
    on one core, so one scan at a time would leave the other cores idle. The first
    error in file order is raised once every scan has ended."""
    workers = max(1, int(conn.execute("SELECT current_setting('threads')").fetchone()[0]))
    scans = _scans(inspections, workers)
    if workers == 1 or len(scans) < 2:
        rows: dict[str, int] = {}
        for scan in scans:
            rows.update(_load_batch(conn, spec, scan, table))
        return rows

    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def read(scan: list[FileInspection]) -> dict[str, int]:
        cursor = getattr(local, "cursor", None)
        if cursor is None:
            with lock:
                cursor = local.cursor = conn.cursor()
                cursors.append(cursor)
        return _load_batch(cursor, spec, scan, table)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
            futures = [pool.submit(read, scan) for scan in scans]
            concurrent.futures.wait(futures)
    finally:
        for cursor in cursors:
            cursor.close()
    rows = {}
    for future in futures:  # in file order: the first failing file is the one reported
        rows.update(future.result())
    return rows


def load_entity(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, selection: EntitySelection) -> LoadResult:
    """Bring `raw.<spec.name>` to exactly the rows of the selected files, atomically.

    Files already loaded unchanged are kept (see the module docstring). Raises
    LandingError for a file that cannot be accepted; the previous raw table is then
    left as it was. Runs its own transaction (not inside one of the caller's). Do not
    share `conn` between threads: give each load its own cursor.
    """
    if selection.spec.name != spec.name:
        raise ValueError(f"selection is for {selection.spec.name}, not {spec.name}")

    stats = {f.relative_path: _file_stat(f.path) for f in selection.files}
    previous = _previous_loads(conn, spec)
    reused: dict[str, FileLoad] = {}
    if previous is not None:
        for f in selection.files:
            known = previous.get(f.relative_path)
            if known is not None and tuple(known[:2]) == stats[f.relative_path]:
                _, _, sha256, extract_date, fmt, rows, drift, missing = known
                reused[f.relative_path] = FileLoad(
                    f.relative_path, extract_date, fmt, int(rows), sha256, int(known[0]),
                    tuple(drift or ()), tuple(missing or ()),
                )
    stale = sorted(set(previous or ()) - set(reused))

    # every file to read is checked (bytes, encoding, header) before anything is written
    inspections = [inspect_file(conn, spec, f) for f in selection.files if f.relative_path not in reused]

    restore_order = conn.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0] is False
    if restore_order:  # row_number() OVER () follows the file order only with this on
        conn.execute("SET preserve_insertion_order = true")
    loading = _loading_table_name(spec)
    try:
        # The files are read first, by several connections at once, into the loading
        # table (committed, so that they see it); the raw table itself changes only
        # inside the transaction below.
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(RAW_SCHEMA)}")
        conn.execute(_create_table_sql(spec, loading))
        rows_per_file = _read_files(conn, spec, inspections, loading)
        conn.execute("BEGIN TRANSACTION")
        try:
            if previous is None:
                # the loading table becomes the raw table: no copy of a full load
                conn.execute(f"DROP TABLE IF EXISTS {raw_table_name(spec)}")
                conn.execute(f"ALTER TABLE {loading} RENAME TO {quote_ident(spec.name)}")
            else:
                if stale:
                    conn.execute(
                        f"DELETE FROM {raw_table_name(spec)} WHERE _file_name IN (SELECT unnest(?::VARCHAR[]))", [stale]
                    )
                if rows_per_file:
                    conn.execute(f"INSERT INTO {raw_table_name(spec)} SELECT * FROM {loading}")
            new_loads = {
                insp.file.relative_path: FileLoad(
                    relative_path=insp.file.relative_path,
                    extract_date=insp.file.extract_date,
                    format=insp.file.format,
                    rows=rows_per_file[insp.file.relative_path],
                    sha256=insp.sha256,
                    size_bytes=insp.size_bytes,
                    drift_columns=insp.drift_columns,
                    missing_columns=insp.missing_columns,
                )
                for insp in inspections
            }
            loads = [reused.get(f.relative_path) or new_loads[f.relative_path] for f in selection.files]
            _record_ledger(conn, spec, stats, loads)
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except duckdb.Error:  # pragma: no cover - the transaction may already be aborted
                pass
            raise
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {loading}")
        if restore_order:
            conn.execute("SET preserve_insertion_order = false")

    return LoadResult(
        spec=spec,
        table=f"{RAW_SCHEMA}.{spec.name}",
        as_of=selection.as_of,
        files=tuple(loads),
        warnings=tuple(selection.warnings) + tuple(_drift_warnings(spec, loads)),
        notes=tuple(selection.notes),
        ignored_later_files=tuple(f.relative_path for f in selection.future_files),
        superseded_files=tuple(f.relative_path for f in selection.superseded_files),
        max_age_days=spec.max_age_days,
        reused_files=len(reused),
    )
