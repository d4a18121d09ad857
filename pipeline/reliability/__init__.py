"""The bad-input corpus and the reliability report (`segmentation reliability`).

    from pipeline.reliability import CASES, run_report
    report = run_report(CASES, work_root)        # runs the real nightly job per case
    print(report.table())

`cases.py` holds the corpus: each case is a small mutation of a clean demo landing
folder with the outcome the data contract expects; `report.py` publishes a baseline,
runs the real pipeline on each mutated folder and checks what it observes.
"""

from pipeline.reliability.cases import CASES, REPRESENTATIVE, Case, select_cases
from pipeline.reliability.report import CaseResult, ReliabilityReport, run_report

__all__ = ["CASES", "REPRESENTATIVE", "Case", "CaseResult", "ReliabilityReport", "run_report", "select_cases"]
