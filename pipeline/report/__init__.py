"""Self-contained HTML reports (plotly, no network): one per publication, and one per
what-if comparison of a candidate ruleset."""

from pipeline.report.run_report import ReportError, report_path, write_run_report
from pipeline.report.what_if import write_what_if_report

__all__ = ["ReportError", "report_path", "write_run_report", "write_what_if_report"]
