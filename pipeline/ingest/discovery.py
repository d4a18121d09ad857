"""Which files of the landing folder a run reads.

Layout (data contract, section 1): `<landing>/<source>/<entity>/<YYYY-MM-DD>.csv`
(or `.parquet`), the date being the extract date; plus the overrides file
(`<landing>/overrides.csv` unless another path is given). Everything else in the
landing folder is ignored with a warning, never read.
"""

from __future__ import annotations

import os
import re
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pipeline.config.sources import EntitySpec, load_entity_specs
from pipeline.ingest.errors import LandingError, LandingWarning
from pipeline.ingest.freshness import ExtractFreshness

FileFormat = Literal["csv", "parquet"]

DEFAULT_OVERRIDES_NAME = "overrides.csv"
_EXTRACT_NAME = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})\.(?P<ext>csv|parquet)", re.IGNORECASE)


@dataclass(frozen=True)
class LandingFile:
    path: Path  # the path to read (symlinks resolved, inside the landing folder)
    relative_path: str  # posix path relative to the landing folder (absolute if outside)
    extract_date: date | None  # None for the overrides file
    format: FileFormat


@dataclass(frozen=True)
class EntitySelection(ExtractFreshness):
    """The files one entity reads for one as-of date, decided before anything is loaded."""

    spec: EntitySpec
    landing_dir: Path
    as_of: date
    files: tuple[LandingFile, ...]  # what load_entity reads, oldest first
    warnings: tuple[LandingWarning, ...] = ()  # freshness, missing optional, ignored files
    notes: tuple[LandingWarning, ...] = ()  # severity info: extracts dated after as_of
    future_files: tuple[LandingFile, ...] = field(default=())  # dated after as_of, not read
    superseded_files: tuple[LandingFile, ...] = field(default=())  # snapshot: older files, not read


def _entity_label(spec: EntitySpec) -> str:
    return f"{spec.source}/{spec.entity}"


def _is_inside(path: Path, root: Path) -> bool:
    try:
        return path.is_relative_to(root)
    except ValueError:  # pragma: no cover - different drives on Windows
        return False


def _check_entry(entry: Path, rel: str, root: Path) -> tuple[Path | None, LandingWarning | None]:
    """Resolve one directory entry; refuse names with '..' and symlinks leaving the root."""
    if ".." in Path(rel).parts:
        return None, LandingWarning(
            "outside_landing", f"{rel}: refused: a '..' path component points outside the landing folder", (rel,)
        )
    resolved = entry.resolve()
    if not _is_inside(resolved, root):
        return None, LandingWarning(
            "outside_landing",
            f"{rel}: refused: it is a symlink to {resolved}, outside the landing folder {root}; "
            "copy the file into the landing folder instead",
            (rel,),
        )
    return resolved, None


def _scan_entity_dir(
    root: Path, source: str, entity: str
) -> tuple[list[LandingFile], list[LandingWarning]]:
    """The well-named extracts of one entity folder, and warnings for everything else in it."""
    entity_dir = root / source / entity
    rel_dir = f"{source}/{entity}"
    if not os.path.lexists(entity_dir):
        return [], []
    resolved_dir, warning = _check_entry(entity_dir, rel_dir, root)
    if warning:
        return [], [warning]
    assert resolved_dir is not None
    if not resolved_dir.is_dir():
        return [], [
            LandingWarning(
                "unexpected_file", f"{rel_dir}: ignored: expected a folder of extracts, found a file", (rel_dir,)
            )
        ]
    files: list[LandingFile] = []
    warnings: list[LandingWarning] = []
    for entry in sorted(entity_dir.iterdir(), key=lambda p: p.name):
        rel = f"{rel_dir}/{entry.name}"
        resolved, warning = _check_entry(entry, rel, root)
        if warning:
            warnings.append(warning)
            continue
        assert resolved is not None
        try:
            mode = resolved.stat().st_mode
        except OSError:
            warnings.append(
                LandingWarning("not_a_regular_file", f"{rel}: ignored: a dangling symlink or unreadable entry", (rel,))
            )
            continue
        if stat.S_ISDIR(mode):
            warnings.append(
                LandingWarning(
                    "unexpected_directory",
                    f"{rel}: ignored: a folder inside an entity folder "
                    "(expected only <YYYY-MM-DD>.csv|.parquet files)",
                    (rel,),
                )
            )
            continue
        if not stat.S_ISREG(mode):
            warnings.append(LandingWarning("not_a_regular_file", f"{rel}: ignored: not a regular file", (rel,)))
            continue
        match = _EXTRACT_NAME.fullmatch(entry.name)
        extract_date = None
        if match:
            try:
                extract_date = date.fromisoformat(match["date"])
            except ValueError:
                extract_date = None
        if extract_date is None:
            warnings.append(
                LandingWarning(
                    "bad_file_name",
                    f"{rel}: ignored: the file name is not <YYYY-MM-DD>.csv or <YYYY-MM-DD>.parquet with a valid "
                    "extract date; rename it if it is an extract",
                    (rel,),
                )
            )
            continue
        assert match is not None
        files.append(LandingFile(resolved, rel, extract_date, match["ext"].lower()))  # type: ignore[arg-type]
    files.sort(key=lambda f: (f.extract_date, f.relative_path))
    return files, warnings


def _check_same_date(spec: EntitySpec, files: list[LandingFile]) -> None:
    by_date: dict[date | None, list[LandingFile]] = defaultdict(list)
    for f in files:
        by_date[f.extract_date].append(f)
    clashes = [group for group in by_date.values() if len(group) > 1]
    if clashes:
        group = clashes[0]
        names = " and ".join(f.relative_path for f in group)
        raise LandingError(
            f"{_entity_label(spec)}: two extracts with the same date {group[0].extract_date}: {names}; "
            "the pipeline cannot tell which one is right: keep exactly one file per date and remove the other",
            files=tuple(f.relative_path for f in group),
            entity=_entity_label(spec),
        )


def landing_level_warnings(landing_dir: Path) -> list[LandingWarning]:
    """What `scan_landing` finds outside every entity folder (unknown sources and entities,
    stray files, symlinks above the entity folders): no entity's own selection reports
    these, so the overrides selection (the landing-level file, read on every run) carries
    them; without this they would be ignored silently."""
    known = [f"{s.source}/{s.entity}" for s in load_entity_specs() if s.load_mode != "file"]

    def in_entity(path: str) -> bool:
        # the overrides file itself is reported by its own selection
        return path == DEFAULT_OVERRIDES_NAME or any(path == k or path.startswith(k + "/") for k in known)

    return [w for w in scan_landing(landing_dir) if not (w.paths and all(in_entity(p) for p in w.paths))]


def _discover_overrides(root: Path, spec: EntitySpec, as_of: date, overrides_file: Path | None) -> EntitySelection:
    selection = _discover_overrides_file(root, spec, as_of, overrides_file)
    if not root.is_dir():
        return selection
    extra = tuple(landing_level_warnings(root))
    if not extra:
        return selection
    return EntitySelection(spec, root, as_of, selection.files, extra + selection.warnings)


def _discover_overrides_file(
    root: Path, spec: EntitySpec, as_of: date, overrides_file: Path | None
) -> EntitySelection:
    explicit = overrides_file is not None
    path = Path(overrides_file) if explicit else root / DEFAULT_OVERRIDES_NAME
    resolved = path.resolve()
    rel = resolved.relative_to(root).as_posix() if _is_inside(resolved, root) else str(resolved)
    if not explicit and os.path.lexists(path) and not _is_inside(resolved, root):
        warning = LandingWarning(
            "outside_landing",
            f"{DEFAULT_OVERRIDES_NAME}: refused: it is a symlink to {resolved}, outside the landing folder; "
            "pass the file with --overrides instead. No overrides are applied",
            (DEFAULT_OVERRIDES_NAME,),
        )
        return EntitySelection(spec, root, as_of, (), (warning,))
    if not resolved.exists():
        warning = LandingWarning(
            "missing_overrides",
            f"manual/overrides: no overrides file at {path}: no manual overrides are applied",
            (rel,),
        )
        return EntitySelection(spec, root, as_of, (), (warning,))
    if not resolved.is_file():
        raise LandingError(
            f"{rel}: the overrides file is not a regular file; point --overrides at a CSV file",
            file=rel,
            entity=_entity_label(spec),
        )
    fmt: FileFormat = "parquet" if resolved.suffix.lower() == ".parquet" else "csv"
    return EntitySelection(spec, root, as_of, (LandingFile(resolved, rel, None, fmt),))


def discover(
    landing_dir: Path, as_of: date, spec: EntitySpec, overrides_file: Path | None = None
) -> EntitySelection:
    """Decide which files `spec` reads for `as_of`.

    Raises LandingError for a required entity without an extract dated on or before
    `as_of`, and for two extracts of one entity with the same date.
    """
    root = Path(landing_dir).resolve()
    if spec.load_mode == "file":
        return _discover_overrides(root, spec, as_of, overrides_file)

    label = _entity_label(spec)
    candidates, warnings = _scan_entity_dir(root, spec.source, spec.entity)
    eligible = [f for f in candidates if f.extract_date is not None and f.extract_date <= as_of]
    future = [f for f in candidates if f.extract_date is not None and f.extract_date > as_of]
    notes = [
        LandingWarning(
            "future_extract",
            f"{f.relative_path}: not read: dated after the as-of date {as_of}",
            (f.relative_path,),
            severity="info",
        )
        for f in future
    ]
    _check_same_date(spec, eligible)

    if not eligible:
        details = []
        if future:
            details.append("only later extracts: " + ", ".join(f.relative_path for f in future))
        if warnings:
            details.append("ignored: " + "; ".join(w.message for w in warnings))
        detail = f" ({'; '.join(details)})" if details else ""
        if not spec.optional_entity:
            raise LandingError(
                f"no extract for {label} dated on or before {as_of} in {root / spec.source / spec.entity}{detail}; "
                "deliver one or run with an earlier --as-of",
                entity=label,
            )
        warnings.append(
            LandingWarning(
                "missing_optional_entity",
                f"{label}: no extract dated on or before {as_of} in {root / spec.source / spec.entity}{detail}; "
                "it is optional and reads as empty",
                (f"{spec.source}/{spec.entity}",),
            )
        )
        return EntitySelection(spec, root, as_of, (), tuple(warnings), tuple(notes), tuple(future))

    if spec.load_mode == "snapshot":
        selected, superseded = eligible[-1:], eligible[:-1]
    elif spec.load_mode == "delta":
        selected, superseded = eligible, []
    else:  # pragma: no cover - sources.yml is validated by its loader
        raise ValueError(f"{label}: unknown load mode {spec.load_mode!r}")

    newest = selected[-1].extract_date
    assert newest is not None
    age = (as_of - newest).days
    if spec.max_age_days is not None and age > spec.max_age_days:
        warnings.append(
            LandingWarning(
                "stale_extract",
                f"{label}: the newest extract {selected[-1].relative_path} is {age} days old on {as_of} "
                f"(expected at most {spec.max_age_days}); check the {spec.source} delivery",
                (selected[-1].relative_path,),
            )
        )
    return EntitySelection(
        spec, root, as_of, tuple(selected), tuple(warnings), tuple(notes), tuple(future), tuple(superseded)
    )


def scan_landing(landing_dir: Path, as_of: date | None = None) -> list[LandingWarning]:
    """Everything in the landing folder that is outside the contract (ignored, never read).

    Covers the whole tree, including the per-entity warnings that `discover` also puts
    in its selection. With `as_of`, extracts dated after it are listed too, with
    severity "info".
    """
    root = Path(landing_dir).resolve()
    if not root.is_dir():
        return [LandingWarning("missing_landing_dir", f"the landing folder {root} does not exist", ())]
    specs = [s for s in load_entity_specs() if s.load_mode != "file"]
    known: dict[str, set[str]] = defaultdict(set)
    for s in specs:
        known[s.source].add(s.entity)

    warnings: list[LandingWarning] = []
    for top in sorted(root.iterdir(), key=lambda p: p.name):
        rel = top.name
        resolved, warning = _check_entry(top, rel, root)
        if warning:
            warnings.append(warning)
            continue
        assert resolved is not None
        if resolved.is_file() and top.name == DEFAULT_OVERRIDES_NAME:
            continue
        if not resolved.is_dir():
            warnings.append(
                LandingWarning(
                    "unexpected_file",
                    f"{rel}: ignored: not part of the landing layout <source>/<entity>/<YYYY-MM-DD>.csv",
                    (rel,),
                )
            )
            continue
        if top.name not in known:
            warnings.append(
                LandingWarning(
                    "unknown_source",
                    f"{rel}/: ignored: unknown source (known: {', '.join(sorted(known))})",
                    (rel,),
                )
            )
            continue
        for sub in sorted(top.iterdir(), key=lambda p: p.name):
            sub_rel = f"{rel}/{sub.name}"
            if sub.name in known[top.name]:
                files, entity_warnings = _scan_entity_dir(root, top.name, sub.name)
                warnings.extend(entity_warnings)
                if as_of is not None:
                    warnings.extend(
                        LandingWarning(
                            "future_extract",
                            f"{f.relative_path}: not read: dated after the as-of date {as_of}",
                            (f.relative_path,),
                            severity="info",
                        )
                        for f in files
                        if f.extract_date is not None and f.extract_date > as_of
                    )
                continue
            sub_resolved, warning = _check_entry(sub, sub_rel, root)
            if warning:
                warnings.append(warning)
            elif sub_resolved is not None and sub_resolved.is_dir():
                warnings.append(
                    LandingWarning(
                        "unknown_entity",
                        f"{sub_rel}/: ignored: unknown entity of {top.name} "
                        f"(known: {', '.join(sorted(known[top.name]))})",
                        (sub_rel,),
                    )
                )
            else:
                warnings.append(
                    LandingWarning(
                        "unexpected_file", f"{sub_rel}: ignored: files belong in <source>/<entity>/", (sub_rel,)
                    )
                )
    return warnings
