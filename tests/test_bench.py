"""`segmentation bench` end to end at a small scale, to keep it working: every figure
is produced and the incremental night publishes what a full run does. No timing is
asserted (figures depend on the machine); the README holds measured ones."""

from pipeline.bench.bench import STAGES, run_bench
from pipeline.cli import main


def test_bench_measures_every_figure_at_a_small_scale(tmp_path):
    result = run_bench(accounts=150, work_dir=tmp_path, pandas_accounts=100)
    assert set(result.figures) == {"pipeline", "incremental", "floor", "pipeline_at_pandas_scale", "pandas"}
    assert result.incremental_same_rows is True
    assert result.input_rows > 0 and result.pandas_accounts == 100
    assert set(result.stages) == set(STAGES) and all(seconds > 0 for seconds in result.stages.values())
    for figure in result.figures.values():
        assert figure.seconds > 0 and figure.peak_mib > 50, figure
    # the pipeline at the pandas scale ran on its own (smaller) landing folder
    assert result.figures["pipeline_at_pandas_scale"].rows < result.figures["pipeline"].rows
    table = result.table()
    for line in ("pipeline / floor:", "incremental / full:", "pandas / pipeline at 100 accounts:",
                 "full run peak memory:", "publishes the same rows as the full run for D + 1: yes"):
        assert line in table


def test_bench_refuses_a_non_positive_scale(capsys):
    assert main(["bench", "--accounts", "0"]) == 2
