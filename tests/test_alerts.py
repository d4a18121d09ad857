"""Alerts: the run-failure sensor's notifier (a webhook received by a local HTTP server
on 127.0.0.1, and a command writing to a file), off by default; and the sensor that
notices late or missing extracts."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from pipeline.defs.alerts import (
    ENV_COMMAND,
    ENV_WEBHOOK,
    NotifyError,
    landing_findings,
    late_or_missing_extracts,
    nightly_segmentation_failure_alert,
    notify,
)
from pipeline.demo_data import generate_demo_data

AS_OF = date(2025, 3, 31)


@pytest.fixture(autouse=True)
def no_notifier(monkeypatch):
    for name in (ENV_WEBHOOK, ENV_COMMAND, "SEGMENTATION_UI_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver():
    """A local webhook receiver bound to 127.0.0.1; yields (url, received bodies)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            received.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                             "body": json.loads(self.rfile.read(length))})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/segmentation", received
    finally:
        server.shutdown()
        server.server_close()


def command_writing_to(path) -> str:
    script = f"import sys; open({str(path)!r}, 'a').write(sys.stdin.read() + '\\n')"
    return f"{sys.executable} -c \"{script}\""


# ---------------------------------------------------------------- a failed run

@dg.asset
def extract():
    return 1


@dg.asset_check(asset=extract, blocking=True)
def extract_rows_gate():
    return dg.AssetCheckResult(passed=False, description="row_count_drop: 40 rows against 100 (-60.00 %)")


@dg.asset(deps=[extract])
def published():
    return 2


@dg.asset
def broken_ingest():
    raise dg.Failure(description="no extract for crm/accounts dated on or before 2025-03-31")


def failure_context(assets, checks=()):
    """Run a small job that fails; the run-failure sensor context of that run."""
    instance = dg.DagsterInstance.ephemeral()
    job = dg.define_asset_job("nightly_segmentation")
    defs = dg.Definitions(assets=assets, asset_checks=list(checks), jobs=[job])
    result = defs.resolve_job_def("nightly_segmentation").execute_in_process(
        instance=instance, raise_on_error=False,
        run_config={},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    run = instance.get_run_by_id(result.run_id)
    context = dg.build_run_status_sensor_context(
        sensor_name="nightly_segmentation_failure_alert", dagster_event=failure,
        dagster_instance=instance, dagster_run=run,
    ).for_run_failure()
    return context, result.run_id


def test_failed_step_alert_is_posted_to_the_webhook(monkeypatch, receiver):
    url, received = receiver
    monkeypatch.setenv(ENV_WEBHOOK, url)
    monkeypatch.setenv("SEGMENTATION_UI_URL", "http://127.0.0.1:3000/")
    context, run_id = failure_context([broken_ingest])

    assert nightly_segmentation_failure_alert(context) is None

    assert len(received) == 1
    assert received[0]["path"] == "/hooks/segmentation"
    assert received[0]["content_type"] == "application/json"
    body = received[0]["body"]
    assert body["kind"] == "run_failure" and body["job"] == "nightly_segmentation" and body["run_id"] == run_id
    assert body["failed_steps"] == [
        {"step": "broken_ingest", "error": "no extract for crm/accounts dated on or before 2025-03-31"}
    ]
    assert body["failed_checks"] == []
    assert body["ui_path"] == f"/runs/{run_id}"
    assert body["ui_url"] == f"http://127.0.0.1:3000/runs/{run_id}"


def test_blocked_run_alert_names_the_failed_check_and_goes_to_the_command(monkeypatch, tmp_path):
    out = tmp_path / "alerts.jsonl"
    monkeypatch.setenv(ENV_COMMAND, command_writing_to(out))
    context, run_id = failure_context([extract, published], [extract_rows_gate])

    nightly_segmentation_failure_alert(context)

    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(alerts) == 1
    assert alerts[0]["run_id"] == run_id and alerts[0]["ui_path"] == f"/runs/{run_id}"
    assert alerts[0]["failed_checks"] == [
        {"asset": "extract", "check": "extract_rows_gate", "severity": "ERROR",
         "description": "row_count_drop: 40 rows against 100 (-60.00 %)"}
    ]
    assert alerts[0]["ui_url"] is None


def test_no_notifier_configured_logs_and_skips(receiver):
    _, received = receiver
    context, run_id = failure_context([broken_ingest])
    result = nightly_segmentation_failure_alert(context)
    assert isinstance(result, dg.SkipReason) and run_id in result.skip_message
    assert received == []


def test_both_notifiers_and_delivery_failures(receiver, tmp_path):
    url, received = receiver
    out = tmp_path / "a.jsonl"
    done = notify({"kind": "test"}, env={ENV_WEBHOOK: url, ENV_COMMAND: command_writing_to(out)})
    assert len(done) == 2 and len(received) == 1 and json.loads(out.read_text()) == {"kind": "test"}
    assert notify({"kind": "test"}, env={}) == []
    with pytest.raises(NotifyError, match="exited 3"):
        notify({}, env={ENV_COMMAND: f"{sys.executable} -c \"import sys; sys.exit(3)\""})
    with pytest.raises(NotifyError, match="webhook"):
        notify({}, env={ENV_WEBHOOK: "http://127.0.0.1:9/closed"})
    with pytest.raises(NotifyError, match="http"):
        notify({}, env={ENV_WEBHOOK: "file:///etc/passwd"})


def test_the_failure_sensor_monitors_the_nightly_job():
    from pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("nightly_segmentation_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert defs.resolve_sensor_def("late_or_missing_extracts").default_status == dg.DefaultSensorStatus.STOPPED


# ----------------------------------------------------- late or missing extracts


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("alerts_landing") / "landing"
    generate_demo_data(root, accounts=30, seed=2, as_of=AS_OF)
    return root


def test_fresh_landing_folder_has_no_findings(landing):
    assert landing_findings(landing, AS_OF, landing / "overrides.csv") == []


def test_late_and_missing_extracts_are_found(landing, tmp_path):
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    shutil.rmtree(copy / "bureau" / "company_scores")
    shutil.rmtree(copy / "crm" / "opportunities")
    findings = {f["entity"]: f for f in landing_findings(copy, AS_OF + timedelta(days=3), copy / "overrides.csv")}
    assert findings["bureau/company_scores"]["problem"] == "missing_or_unreadable"
    assert findings["bureau/company_scores"]["blocks_run"] is True
    assert findings["crm/opportunities"]["problem"] == "missing_optional"
    late = findings["crm/accounts"]
    assert (late["problem"], late["age_days"], late["max_age_days"]) == ("late", 3, 1)
    assert findings["finance/invoices"]["problem"] == "late"


def test_the_sensor_reports_in_its_skip_reason_and_alerts_once(landing, tmp_path, monkeypatch, receiver):
    url, received = receiver
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    shutil.rmtree(copy / "finance" / "fx_rates")
    monkeypatch.setenv("SEGMENTATION_LANDING_DIR", str(copy))
    monkeypatch.setenv("SEGMENTATION_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv(ENV_WEBHOOK, url)
    # "today" is after the demo's last extract, so every daily feed is late as well
    context = dg.build_sensor_context()
    result = late_or_missing_extracts(context)
    assert isinstance(result, dg.SkipReason)
    assert "finance/fx_rates: missing_or_unreadable" in result.skip_message
    assert "crm/accounts: late" in result.skip_message
    assert len(received) == 1 and received[0]["body"]["kind"] == "late_or_missing_extracts"
    # the same findings on the next tick: reported again, not re-sent
    again = late_or_missing_extracts(dg.build_sensor_context(cursor=context.cursor))
    assert isinstance(again, dg.SkipReason) and len(received) == 1
