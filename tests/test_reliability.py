"""The bad-input corpus through the real pipeline (issue 5, items 4 and 8).

The representative subset runs in the normal suite (one baseline publication shared by
all cases, ~80 demo accounts); the full corpus is marked slow (`segmentation
reliability --full` runs it on demand)."""

import shutil

import pytest

from pipeline.reliability import CASES, REPRESENTATIVE, run_report, select_cases
from pipeline.reliability.cases import CaseContext
from pipeline.reliability.report import AS_OF, prepare_clean_landing

KINDS = {"publishes", "stops", "ignored_with_warning"}


def test_corpus_covers_the_contract():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) >= 25
    assert {c.expected for c in CASES} == KINDS
    subset = select_cases()
    assert [c.name for c in subset] == list(REPRESENTATIVE)
    assert {c.expected for c in subset} == KINDS
    assert len(select_cases(full=True)) == len(CASES)
    with pytest.raises(KeyError):
        select_cases(["no_such_case"])


def test_every_mutation_applies_to_a_clean_landing_folder(tmp_path):
    """Cheap: each case's mutation runs and says what the run must show (no pipeline run)."""
    clean = prepare_clean_landing(tmp_path)
    for case in CASES:
        landing, outside = tmp_path / case.name / "landing", tmp_path / case.name / "outside"
        shutil.copytree(clean, landing, symlinks=True)
        outside.mkdir()
        facts = case.mutate(CaseContext(landing, AS_OF, outside))
        if case.expected == "stops":
            assert facts.file, case.name
        if case.expected == "ignored_with_warning":
            assert facts.file and facts.warning, case.name


@pytest.fixture(scope="module")
def subset_report(tmp_path_factory):
    return run_report(select_cases(), tmp_path_factory.mktemp("reliability"))


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_representative_case_as_expected(subset_report, name):
    result = next(r for r in subset_report.results if r.case.name == name)
    assert result.as_expected, f"{name}: {result.problems}\n{subset_report.table()}"
    assert result.lost == 0
    if result.case.expected == "stops":
        assert result.observed == "stopped"
        assert result.case.name and result.message.strip()
        assert "Traceback (most recent call last)" not in result.message
    else:
        assert result.observed in ("published", "published_with_warning")
        assert result.entities, "the conservation ledger of the run is empty"
        for entity, counts in result.entities.items():
            assert counts.lost == 0, f"{entity}: {counts}"
    if result.case.expected == "ignored_with_warning":
        assert result.observed == "published_with_warning"


def test_report_table_has_totals(subset_report):
    table = subset_report.table()
    assert table.splitlines()[0].split()[:3] == ["case", "expected", "observed"]
    assert f"TOTAL: {len(REPRESENTATIVE)} cases, {len(REPRESENTATIVE)} as expected" in table
    assert "0 rows lost" in table and subset_report.ok


@pytest.mark.slow
def test_full_corpus_as_expected(tmp_path):
    report = run_report(select_cases(full=True), tmp_path)
    assert report.ok, report.table()
