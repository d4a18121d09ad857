"""What the landing reader reports: errors that stop the run, warnings that do not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["warning", "info"]

# Warning kinds (LandingWarning.kind):
#   unknown_source, unknown_entity    a folder the contract does not know
#   unexpected_file                   a file where only folders are expected
#   unexpected_directory              a folder inside an entity folder
#   bad_file_name                     not <YYYY-MM-DD>.csv|.parquet (or not a valid date)
#   outside_landing                   a symlink resolving outside the landing folder, or a '..' name
#   not_a_regular_file                a fifo, socket, device or dangling symlink
#   missing_landing_dir               the landing folder itself does not exist
#   missing_optional_entity           an optional entity with no extract: read as empty
#   missing_overrides                 no overrides file: no overrides
#   stale_extract                     the newest selected extract is older than max_age_days
#   schema_drift                      unknown columns in a file, dropped
#   future_extract (severity info)    an extract dated after the as-of date, not read


@dataclass(frozen=True)
class LandingWarning:
    """A problem in the landing folder that does not stop the run."""

    kind: str
    message: str
    paths: tuple[str, ...] = ()  # landing-relative (posix) paths concerned
    columns: tuple[str, ...] = ()  # for schema_drift: the dropped header names
    severity: Severity = "warning"

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "paths": list(self.paths),
            "columns": list(self.columns),
        }


class LandingError(Exception):
    """A file or an entity that cannot be accepted: the run stops.

    `str(error)` is the complete message for a human (file, line or column, what to
    fix); the attributes carry the same facts for programs.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        files: tuple[str, ...] = (),
        line: int | None = None,
        columns: tuple[str, ...] = (),
        entity: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.files = files or ((file,) if file else ())
        self.line = line
        self.columns = columns
        self.entity = entity

    def __str__(self) -> str:
        return self.message
