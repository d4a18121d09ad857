"""Freshness of a set of extract files, shared by the selection and the load result."""

from __future__ import annotations

from datetime import date


class ExtractFreshness:
    """For a class with `files` (each with an `extract_date`), `as_of` and `warnings`."""

    @property
    def newest_extract_date(self) -> date | None:
        dates = [f.extract_date for f in self.files if f.extract_date is not None]
        return max(dates) if dates else None

    @property
    def extract_age_days(self) -> int | None:
        newest = self.newest_extract_date
        return None if newest is None else (self.as_of - newest).days

    @property
    def is_stale(self) -> bool:
        return any(w.kind == "stale_extract" for w in self.warnings)
