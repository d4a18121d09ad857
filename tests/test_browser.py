"""What a person sees, in a real browser: Debian's Chromium driven by Playwright.

The run report of a real two-day pipeline run must draw every chart with no script
error, offline; the Dagster UI must show the published asset with its upstream lineage
(dbt models, landing extracts). Chromium comes from scripts/install_browser.sh: in CI
(CI set) a missing browser is a failure, elsewhere a skip."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from pipeline.demo_data import generate_demo_data
from pipeline.report import write_run_report
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium tries to reach Google's services at
# start-up; on a closed network those connections are refused and the launch misbehaves.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DAY_1, DAY_2 = date(2026, 11, 21), date(2026, 11, 22)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: run scripts/install_browser.sh (Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# -- the run report ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_day_publication(tmp_path_factory):
    """Two consecutive nightly runs on one demo landing folder, so the migration matrix has data."""
    root = tmp_path_factory.mktemp("browser_report")
    landing = root / "landing"
    generate_demo_data(landing, accounts=150, seed=11, as_of=DAY_1)
    paths = RunPaths.resolve(landing, root / "warehouse" / "segments.duckdb")
    outcome = None
    for as_of in (DAY_1, DAY_2):
        outcome = run_nightly_job(paths, as_of)
        assert outcome.published, outcome.summary()
    return paths, outcome.run_id, root


def test_run_report_draws_every_chart_offline_without_errors(browser, two_day_publication):
    paths, run_id, root = two_day_publication
    report = write_run_report(paths.warehouse, run_id, root / "report.html")
    figures_in_file = report.read_text(encoding="utf-8").count('class="figure-data"')
    assert figures_in_file >= 20

    # A page that reached for the network would be caught here, not only by its missing charts.
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    try:
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_function(
            "n => document.querySelectorAll('.js-plotly-plot svg.main-svg').length > 0"
            " && document.querySelectorAll('.js-plotly-plot').length === n", arg=figures_in_file, timeout=60_000,
        )
        rendered = page.evaluate(
            """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => {
                   const box = plot.getBoundingClientRect();
                   return {
                       id: plot.id,
                       title: (plot.querySelector('.gtitle') || {}).textContent || '',
                       svgs: plot.querySelectorAll('svg.main-svg').length,
                       // drawn marks: bar paths, scatter lines and markers, heatmap bitmaps
                       marks: plot.querySelectorAll(
                           '.cartesianlayer .trace .point path, .cartesianlayer .trace path.js-line,'
                           + ' .cartesianlayer .trace .points path, .cartesianlayer .hm image').length,
                       width: box.width, height: box.height,
                   };
               })"""
        )
        page.screenshot(path=str(root / "report.png"), full_page=False)
    finally:
        context.close()

    assert problems == []
    assert len(rendered) == figures_in_file
    for plot in rendered:
        assert plot["svgs"] > 0 and plot["marks"] > 0, plot
        assert plot["title"], plot
        assert plot["width"] > 200 and plot["height"] > 200, plot
    titles = [plot["title"] for plot in rendered]
    assert any(t.startswith("Cumulative share of revenue") for t in titles)
    assert f"Accounts whose segment changed between {DAY_1} and {DAY_2}" in titles
    assert "Share of accounts left to_be_defined, per dimension" in titles
    assert "lifecycle_stage: accounts and revenue per segment" in titles


# -- the Dagster UI ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _code_location_loaded(base_url: str) -> bool:
    query = ("{ workspaceOrError { ... on Workspace { locationEntries { loadStatus "
             "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
    request = urllib.request.Request(
        f"{base_url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            entries = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
    except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
        return False
    for entry in entries:
        error = entry.get("locationOrLoadError") or {}
        if error.get("__typename") == "PythonError":
            raise AssertionError(f"the code location failed to load: {error.get('message')}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries)


@pytest.fixture
def dagster_webserver(tmp_path):
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "webserver.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", "workspace.yaml",
         "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO, env={**os.environ, "DAGSTER_HOME": str(tmp_path)}, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 240
        while not _code_location_loaded(base_url):
            if server.poll() is not None:
                raise AssertionError(f"dagster-webserver exited with {server.returncode}: "
                                     + (tmp_path / "webserver.log").read_text()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError("dagster-webserver did not load the code location in 240 s: "
                                     + (tmp_path / "webserver.log").read_text()[-3000:])
            time.sleep(1)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_dagster_ui_shows_the_published_asset_with_its_upstream_lineage(browser, dagster_webserver, tmp_path):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    try:
        # The asset's lineage tab, upstream, all the way: the UI caps the depth at the graph's own.
        page.goto(f"{dagster_webserver}/assets/analytics/segmented_accounts"
                  "?view=lineage&lineageScope=upstream&lineageDepth=100")
        node_names = page.locator("[class*=AssetNode_assetName]")
        node_names.first.wait_for(timeout=120_000)
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('[class*=AssetNode_assetName]'))"
            ".some(e => e.textContent === 'accounts')", timeout=60_000,
        )
        names = node_names.all_inner_texts()
        heading = page.locator("text=segmented_accounts").first.inner_text()
        page.screenshot(path=str(tmp_path / "lineage.png"))
    finally:
        context.close()

    assert heading == "segmented_accounts"
    # The published analytics/segmented_accounts and the dbt model it copies.
    assert names.count("segmented_accounts") >= 2, names
    assert any(n.startswith("int_") for n in names), names
    assert any(n.startswith("stg_") for n in names), names
    # Landing extracts (crm/accounts, finance/invoices) at the top of the lineage.
    assert {"accounts", "invoices", "payments"} <= set(names), names
