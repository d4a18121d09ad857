"""Checks on one landing file before DuckDB reads it: bytes (hash, UTF-8), header, columns.

Everything here reads the file with Python only in bulk (fixed-size chunks, C-level
hashing and decoding) and parses the header record alone; the rows are left to
DuckDB's readers.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from typing import Iterator

import duckdb

from pipeline.config.sources import EntitySpec
from pipeline.ingest.discovery import LandingFile
from pipeline.ingest.errors import LandingError

_CHUNK = 1 << 20
_HEADER_PREFIX = 1 << 20  # the header record must fit in the first MiB
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class FileInspection:
    file: LandingFile
    size_bytes: int
    sha256: str
    header: tuple[str, ...]  # column names as delivered, in file order
    mapping: dict[str, int]  # contract column -> 0-based position in the file
    drift_columns: tuple[str, ...]  # unknown columns (trimmed names as delivered), dropped
    missing_columns: tuple[str, ...]  # optional contract columns absent: read as null
    has_data: bool = True  # CSV: something beyond the header record
    mixed_line_endings: bool = False  # CSV: both CRLF and bare LF occur
    duckdb_names: tuple[str, ...] = ()  # Parquet: the names DuckDB gives the columns
    duckdb_types: tuple[str, ...] = ()  # Parquet: their DuckDB types
    # CSV without a single quote character: every record is one line, so the number of
    # data rows is known from the bytes alone (the loader checks DuckDB against it)
    unquoted_data_rows: int | None = None


def duckdb_path(path: object) -> str:
    """A local path as DuckDB's readers must get it: glob characters made literal.

    DuckDB expands `*`, `?` and `[...]` in reader paths even when bound as a
    parameter, so a landing folder named `drop[1]` would silently read `drop1/`.
    """
    return re.sub(r"[\[*?]", lambda m: f"[{m[0]}]", str(path))


def _fix_encoding_hint() -> str:
    return "re-export it as UTF-8 (a Latin-1 / Windows-1252 export is the usual cause) and deliver it again"


def hash_file(file: LandingFile, *, check_utf8: bool) -> tuple[str, int, bool, int | None]:
    """sha256 and size of the file's bytes; for CSV also checks UTF-8 and line endings.

    Returns (sha256, size, mixed_line_endings, lines): `lines` is the number of lines
    when the file holds no quote character (None otherwise, and for non-CSV files).
    """
    quotes = 0
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    size = 0
    newlines = 0  # b"\n" seen before the current chunk
    crlf = 0
    previous_last = b""
    with open(file.path, "rb") as handle:
        first = True
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if check_utf8:
                if first and chunk.startswith(_UTF16_BOMS):
                    raise LandingError(
                        f"{file.relative_path}: the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); "
                        "CSV extracts must be UTF-8: re-export it as UTF-8 and deliver it again",
                        file=file.relative_path,
                        line=1,
                    )
                pending = decoder.getstate()[0]
                if pending or not chunk.isascii():
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        data = exc.object
                        line = newlines + data[: exc.start].count(b"\n") + 1
                        offset = size - len(pending) + exc.start
                        raise LandingError(
                            f"{file.relative_path}: not valid UTF-8 at line {line} (byte offset {offset}, "
                            f"byte 0x{data[exc.start]:02x}); {_fix_encoding_hint()}",
                            file=file.relative_path,
                            line=line,
                        ) from None
                newlines += chunk.count(b"\n")
                quotes += chunk.count(b'"')
                crlf += chunk.count(b"\r\n") + (previous_last == b"\r" and chunk[:1] == b"\n")
                previous_last = chunk[-1:]
            size += len(chunk)
            first = False
    if check_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise LandingError(
                f"{file.relative_path}: not valid UTF-8 at the end of the file (line {newlines + 1}: a truncated "
                f"multi-byte character); {_fix_encoding_hint()}",
                file=file.relative_path,
                line=newlines + 1,
            ) from None
    mixed = crlf > 0 and newlines > crlf
    lines = None
    if check_utf8 and quotes == 0:
        lines = newlines + (1 if size and previous_last != b"\n" else 0)
    return digest.hexdigest(), size, mixed, lines


def _read_csv_header(file: LandingFile, size: int) -> tuple[list[str], bool]:
    """The header record (parsed with the same RFC 4180 dialect) and whether data follows."""
    with open(file.path, "rb") as handle:
        prefix = handle.read(_HEADER_PREFIX)
    truncated = size > len(prefix)
    if prefix.startswith(_UTF8_BOM):
        prefix = prefix[len(_UTF8_BOM) :]
    # the file is known to be valid UTF-8; only a character cut at the prefix end is held back
    text = codecs.getincrementaldecoder("utf-8")("strict").decode(prefix, final=not truncated)
    consumed = 0

    def lines() -> Iterator[str]:
        nonlocal consumed
        for line in io.StringIO(text, newline=""):
            consumed += len(line)
            yield line

    reader = csv.reader(lines(), delimiter=",", quotechar='"', doublequote=True, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise LandingError(
            f"{file.relative_path}: the header row (line 1) is not valid CSV ({exc}); it must be comma-separated "
            'column names, any name with a comma or quote enclosed in double quotes ("" for a quote inside)',
            file=file.relative_path,
            line=1,
        ) from None
    if header is None or header == [] or all(not name.strip() for name in header):
        raise LandingError(
            f"{file.relative_path}: no header row: the first line is empty; the first line must name the columns "
            "(comma-separated)",
            file=file.relative_path,
            line=1,
        )
    if truncated and consumed >= len(text):
        raise LandingError(
            f"{file.relative_path}: the header row does not end within the first {_HEADER_PREFIX} bytes "
            "(an unclosed quote in the header?); fix the header row",
            file=file.relative_path,
            line=1,
        )
    has_data = truncated or bool(text[consumed:].strip())
    return header, has_data


def map_columns(
    spec: EntitySpec, names: list[str] | tuple[str, ...], rel: str
) -> tuple[dict[str, int], tuple[str, ...], tuple[str, ...]]:
    """Contract column -> position; names are trimmed and case-insensitive.

    Returns (mapping, drift columns, missing optional columns). Raises LandingError for
    a duplicated name or a missing required column.
    """
    normalized = [name.strip().lower() for name in names]
    seen: dict[str, int] = {}
    for position, name in enumerate(normalized):
        if not name:
            continue
        if name in seen:
            first = seen[name]
            raise LandingError(
                f"{rel}: the header names the column {name!r} twice (columns {first + 1} and {position + 1}: "
                f"{names[first]!r} and {names[position]!r}; names are case-insensitive); "
                "remove or rename one of them",
                file=rel,
                line=1,
                columns=(name,),
            )
        seen[name] = position
    contract = {column.lower(): column for column in spec.columns}
    mapping = {column: seen[column.lower()] for column in spec.columns if column.lower() in seen}
    drift = tuple(names[p].strip() for p, name in enumerate(normalized) if name not in contract)
    missing_required = tuple(c for c in spec.required_columns if c not in mapping)
    if missing_required:
        found = ", ".join(repr(n.strip()) for n in names)
        if len(missing_required) == 1:
            what = f"the required column {missing_required[0]!r} is missing"
            fix = f"add the column {missing_required[0]!r}"
        else:
            what = "the required columns " + ", ".join(repr(c) for c in missing_required) + " are missing"
            fix = "add these columns"
        raise LandingError(
            f"{rel}: {what} (columns found: {found}); {fix} (names are case-insensitive, order is free) "
            "and deliver the file again",
            file=rel,
            line=1,
            columns=missing_required,
        )
    missing = tuple(c for c in spec.columns if c not in mapping)
    return mapping, drift, missing


def inspect_csv(spec: EntitySpec, file: LandingFile) -> FileInspection:
    sha, size, mixed, lines = hash_file(file, check_utf8=True)
    if size == 0 or (size == len(_UTF8_BOM) and file.path.read_bytes() == _UTF8_BOM):
        raise LandingError(
            f"{file.relative_path}: the file is empty (no header row); deliver the extract again "
            "(a header row with no data rows is a valid empty extract)",
            file=file.relative_path,
        )
    header, has_data = _read_csv_header(file, size)
    mapping, drift, missing = map_columns(spec, header, file.relative_path)
    return FileInspection(
        file, size, sha, tuple(header), mapping, drift, missing, has_data, mixed,
        unquoted_data_rows=None if lines is None else max(lines - 1, 0),
    )


def _top_level_parquet_names(rows: list[tuple[str, int | None]]) -> list[str]:
    """Top-level column names from parquet_schema() rows (depth-first, root first)."""
    if not rows:
        return []
    names: list[str] = []
    index = 1

    def skip_subtree(i: int) -> int:
        children = rows[i][1] or 0
        i += 1
        for _ in range(children):
            i = skip_subtree(i)
        return i

    for _ in range(rows[0][1] or 0):
        names.append(rows[index][0])
        index = skip_subtree(index)
    return names


def parquet_problem(file: LandingFile, exc: Exception) -> LandingError:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first_line = re.sub(r"^[A-Za-z ]*Error: ", "", first_line)
    return LandingError(
        f"{file.relative_path}: cannot be read as a Parquet file ({first_line}); re-export it as Parquet "
        "(or as CSV) and deliver it again",
        file=file.relative_path,
    )


def inspect_parquet(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, file: LandingFile) -> FileInspection:
    sha, size, _, _ = hash_file(file, check_utf8=False)
    if size == 0:
        raise LandingError(
            f"{file.relative_path}: the file is empty (0 bytes), not a Parquet file; deliver the extract again",
            file=file.relative_path,
        )
    params = {"path": duckdb_path(file.path)}
    try:
        schema_rows = conn.execute("SELECT name, num_children FROM parquet_schema($path)", params).fetchall()
        described = conn.execute(
            "DESCRIBE SELECT * FROM read_parquet($path, binary_as_string = true)", params
        ).fetchall()
    except duckdb.Error as exc:
        raise parquet_problem(file, exc) from None
    names = _top_level_parquet_names(schema_rows)
    duckdb_names = tuple(row[0] for row in described)
    duckdb_types = tuple(row[1] for row in described)
    if len(names) != len(duckdb_names):  # pragma: no cover - defensive
        names = list(duckdb_names)
    mapping, drift, missing = map_columns(spec, names, file.relative_path)
    return FileInspection(
        file, size, sha, tuple(names), mapping, drift, missing, duckdb_names=duckdb_names, duckdb_types=duckdb_types
    )


def inspect_file(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, file: LandingFile) -> FileInspection:
    if file.format == "parquet":
        return inspect_parquet(conn, spec, file)
    return inspect_csv(spec, file)
