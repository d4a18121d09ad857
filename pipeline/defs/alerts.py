"""Sensors that tell someone when the night went wrong.

- `nightly_segmentation_failure_alert` (run-failure sensor on the nightly job): a failed
  or gate-blocked run sends one JSON alert (job, run id, failed steps, failed checks,
  the path of the run in the UI) to the configured notifier.
- `late_or_missing_extracts` (contract, section 4): evaluates the landing folder
  against the delivery ages of `pipeline/config/sources.yml` with the same discovery the
  run uses, and reports late or missing extracts as the tick's skip reason (no run is
  requested: running on stale data would only fail or warn again); when the findings
  change it also sends them to the notifier.

Notifier (off by default: with neither variable set the sensors log and skip):

    SEGMENTATION_ALERT_WEBHOOK   URL that receives the JSON by HTTP POST
    SEGMENTATION_ALERT_COMMAND   command (split like a shell would, not run by a shell)
                                 that receives the JSON on stdin
    SEGMENTATION_UI_URL          optional base URL put before the run's UI path

Both may be set; each gets the alert. A notifier that fails raises, so the sensor tick
fails visibly in the UI and the daemon tries the same run again on the next tick.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
import urllib.request
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from pipeline.defs.jobs import nightly_segmentation_job

ENV_WEBHOOK = "SEGMENTATION_ALERT_WEBHOOK"
ENV_COMMAND = "SEGMENTATION_ALERT_COMMAND"
ENV_UI_URL = "SEGMENTATION_UI_URL"
NOTIFY_TIMEOUT_SECONDS = 30


class NotifyError(RuntimeError):
    """The alert could not be delivered."""


def notifier_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get(ENV_WEBHOOK) or env.get(ENV_COMMAND))


def notify(payload: Mapping[str, Any], env: Mapping[str, str] | None = None) -> list[str]:
    """Send `payload` as JSON to every configured notifier; what was done, one line each.

    Returns [] when none is configured. Raises NotifyError when a delivery fails."""
    env = os.environ if env is None else env
    body = json.dumps(payload, sort_keys=True, default=str)
    done = []
    webhook = env.get(ENV_WEBHOOK)
    if webhook:
        if not webhook.lower().startswith(("http://", "https://")):
            raise NotifyError(f"{ENV_WEBHOOK} must be an http(s) URL, got {webhook!r}")
        request = urllib.request.Request(
            webhook, data=body.encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "segmentation-alerts"},
        )
        try:
            with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = response.status
        except OSError as exc:  # URLError, HTTPError, timeouts
            raise NotifyError(f"webhook {webhook} failed: {exc}") from exc
        done.append(f"webhook {webhook}: HTTP {status}")
    command = env.get(ENV_COMMAND)
    if command:
        try:
            result = subprocess.run(
                shlex.split(command), input=body, text=True, capture_output=True, timeout=NOTIFY_TIMEOUT_SECONDS
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise NotifyError(f"alert command {command!r} failed: {exc}") from exc
        if result.returncode != 0:
            raise NotifyError(
                f"alert command {command!r} exited {result.returncode}: {result.stderr.strip()[:500]}"
            )
        done.append(f"command {command!r}: exit 0")
    return done


# ------------------------------------------------------------------ failed runs


def _error_message(error) -> str:
    # Dagster wraps the step's own exception: report the innermost cause.
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return "failed"
    message = error.message.strip()
    # "dagster._core.definitions.events.Failure: <description>": keep the description
    prefix = re.match(r"[\w.]*" + re.escape(error.cls_name or "") + r": ", message) if error.cls_name else None
    if prefix:
        message = message[prefix.end():]
    return (message.splitlines() or ["failed"])[0][:1000]


def failure_payload(context: dg.RunFailureSensorContext) -> dict[str, Any]:
    """The alert of one failed run: job, run id, failed steps and checks, UI path."""
    run = context.dagster_run
    steps = [
        {"step": event.step_key, "error": _error_message(event.event_specific_data.error)}
        for event in context.get_step_failure_events()
    ]
    checks = []
    for record in context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data
        if evaluation is not None and not evaluation.passed:
            checks.append(
                {
                    "asset": evaluation.asset_key.to_user_string(),
                    "check": evaluation.check_name,
                    "severity": getattr(evaluation.severity, "value", str(evaluation.severity)),
                    "description": (evaluation.description or "")[:1000],
                }
            )
    path = f"/runs/{run.run_id}"
    base = os.environ.get(ENV_UI_URL, "").rstrip("/")
    failure = context.failure_event
    return {
        "kind": "run_failure",
        "job": run.job_name,
        "run_id": run.run_id,
        "as_of": (run.run_config or {}).get("resources", {}).get("run_settings", {}).get("config", {}).get("as_of"),
        "message": failure.message if failure is not None else None,
        "failed_steps": steps,
        "failed_checks": checks,
        "ui_path": path,
        "ui_url": f"{base}{path}" if base else None,
    }


@dg.run_failure_sensor(
    name="nightly_segmentation_failure_alert",
    monitored_jobs=[nightly_segmentation_job],
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Alerts when a run of the nightly job fails or is blocked by the publish gate: POSTs JSON to "
        f"${ENV_WEBHOOK} and/or pipes it to ${ENV_COMMAND}; logs and skips when neither is set."
    ),
)
def nightly_segmentation_failure_alert(context: dg.RunFailureSensorContext):
    payload = failure_payload(context)
    if not notifier_configured():
        context.log.info(
            f"run {payload['run_id']} failed; no alert sent ({ENV_WEBHOOK} / {ENV_COMMAND} not set): "
            + json.dumps(payload, default=str)
        )
        return dg.SkipReason(f"no notifier configured; run {payload['run_id']} failed")
    for line in notify(payload):
        context.log.info(f"alert for run {payload['run_id']} sent: {line}")
    return None


# ------------------------------------------------------ late or missing extracts


def landing_findings(landing_dir: Path, as_of: date, overrides_file: Path | None = None) -> list[dict[str, Any]]:
    """Late (older than `max_age_days`) and missing extracts of the landing folder for
    `as_of`, as the run itself would see them (pipeline.ingest.discover)."""
    from pipeline.config import load_entity_specs
    from pipeline.ingest import LandingError, discover

    findings = []
    for spec in load_entity_specs():
        label = f"{spec.source}/{spec.entity}"
        try:
            selection = discover(landing_dir, as_of, spec, overrides_file=overrides_file)
        except LandingError as error:
            findings.append({"entity": label, "problem": "missing_or_unreadable", "blocks_run": True,
                             "detail": str(error)})
            continue
        for warning in selection.warnings:
            if warning.kind == "stale_extract":
                findings.append({"entity": label, "problem": "late", "blocks_run": False,
                                 "age_days": selection.extract_age_days, "max_age_days": spec.max_age_days,
                                 "detail": warning.message})
            elif warning.kind == "missing_optional_entity":
                findings.append({"entity": label, "problem": "missing_optional", "blocks_run": False,
                                 "detail": warning.message})
    return findings


@dg.sensor(
    name="late_or_missing_extracts",
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Checks the landing folder against the expected delivery ages of sources.yml (as of today in the "
        "configured timezone); reports late or missing extracts in the tick's skip reason and, when they "
        "change, sends them to the notifier. Never requests a run."
    ),
)
def late_or_missing_extracts(context: dg.SensorEvaluationContext):
    from pipeline.config import load_config
    from pipeline.settings import RunPaths, resolve_as_of

    paths = RunPaths.resolve()
    config = load_config(paths.config_file)
    as_of = resolve_as_of(None, config.general.timezone)
    if not paths.landing_dir.is_dir():
        findings = [{"entity": "*", "problem": "missing_or_unreadable", "blocks_run": True,
                     "detail": f"landing folder {paths.landing_dir} does not exist"}]
    else:
        findings = landing_findings(paths.landing_dir, as_of, paths.overrides_file)
    if not findings:
        context.update_cursor(None)
        return dg.SkipReason(f"every extract in {paths.landing_dir} is on time as of {as_of}")
    lines = [f"{f['entity']}: {f['problem']}: {f['detail']}" for f in findings]
    for line in lines:
        context.log.warning(line)
    digest = hashlib.sha256(json.dumps([as_of.isoformat(), findings], sort_keys=True, default=str).encode()).hexdigest()
    if notifier_configured() and context.cursor != digest:
        payload = {"kind": "late_or_missing_extracts", "landing_dir": str(paths.landing_dir),
                   "as_of": as_of.isoformat(), "findings": findings}
        for line in notify(payload):
            context.log.info(f"alert sent: {line}")
        context.update_cursor(digest)
    return dg.SkipReason(f"{len(findings)} late or missing extract(s) as of {as_of}: " + " | ".join(lines))


alert_sensors = [nightly_segmentation_failure_alert, late_or_missing_extracts]
