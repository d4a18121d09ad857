"""The landing-folder reader and raw loader (pure Python + DuckDB, no Dagster).

    selection = discover(landing_dir, as_of, spec, overrides_file)   # which files
    result = load_entity(conn, spec, selection)                      # raw.<source>__<entity>
    warnings = scan_landing(landing_dir, as_of)                      # what is outside the contract

A file or entity that cannot be accepted raises LandingError (the run stops); anything
else worth knowing is a LandingWarning in the selection, the result or the scan.
"""

from pipeline.ingest.discovery import EntitySelection, LandingFile, discover, scan_landing
from pipeline.ingest.errors import LandingError, LandingWarning
from pipeline.ingest.loader import FileLoad, LoadResult, load_entity, raw_table_name

__all__ = [
    "EntitySelection",
    "FileLoad",
    "LandingError",
    "LandingFile",
    "LandingWarning",
    "LoadResult",
    "discover",
    "load_entity",
    "raw_table_name",
    "scan_landing",
]
