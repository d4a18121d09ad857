"""Concise progress lines for `segmentation run`: a Dagster logger that prints step
starts and ends, check verdicts and our own warnings, and remembers what the final
summary needs (failed steps, failed checks, warnings)."""

import logging
import sys
import time
from dataclasses import dataclass, field

import dagster as dg


@dataclass
class RunReport:
    failed_steps: list[tuple[str, str]] = field(default_factory=list)
    failed_checks: list[tuple[str, str]] = field(default_factory=list)
    passed_checks: int = 0
    warning_checks: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)  # for `segmentation bench`


class _ProgressHandler(logging.Handler):
    def __init__(self, report: RunReport, stream=None):
        super().__init__(logging.DEBUG)
        self.report = report
        self.stream = stream or sys.stderr
        self.started: dict[str, float] = {}

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            message = meta.get("orig_message") or record.getMessage()
            if record.levelno < logging.INFO:
                return
            if record.levelno >= logging.WARNING:
                self.report.warnings.append(message)
                self._print(f"    ! {message}")
            elif step and not step.startswith("segmentation_dbt_models"):
                self._print(f"    {message}")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
            self._print(f"  > {step}")
        elif kind == "STEP_SUCCESS":
            elapsed = time.monotonic() - self.started.get(step, time.monotonic())
            self.report.step_seconds[step] = elapsed
            self._print(f"  ok {step} ({elapsed:.1f} s)")
        elif kind == "STEP_FAILURE":
            error = event.event_specific_data.error
            # Dagster wraps the step's own exception: report the innermost cause.
            while error is not None and error.cause is not None:
                error = error.cause
            message = error.message.strip() if error else "failed"
            if error is not None and error.cls_name == "Failure":
                # our own, deliberate stop (dg.Failure): its description is the message
                message = message.split(": ", 1)[-1] if message.startswith("dagster.") else message
            self.report.failed_steps.append((step, message))
            self._print(f"  FAILED {step}: {message.splitlines()[0] if message else ''}")
        elif kind == "STEP_SKIPPED":
            self._print(f"  skipped {step} (an upstream step or a blocking check failed)")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                self.report.passed_checks += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                self.report.warning_checks.append((name, evaluation.description or ""))
            else:
                description = evaluation.description or ""
                self.report.failed_checks.append((name, description))
                self._print(f"    check failed: {name} {description}".rstrip())


def progress_logger_def(report: RunReport) -> dg.LoggerDefinition:
    @dg.logger(description="Concise progress lines for the command line.")
    def progress(_init_context):
        log = logging.getLogger(f"segmentation.progress.{id(report)}")
        log.setLevel(logging.DEBUG)
        log.handlers = [_ProgressHandler(report)]
        log.propagate = False
        return log

    return progress
