"""`segmentation`: the console command (data contract, section 4).

    segmentation run [--landing DIR] [--warehouse FILE] [--as-of YYYY-MM-DD]
                     [--config FILE] [--overrides FILE] [--allow-row-drop]
    segmentation demo-data --out DIR [--accounts N] [--seed S] [--as-of YYYY-MM-DD]
    segmentation rollback [--warehouse FILE] [--reason TEXT]
    segmentation reliability [--full] [--cases NAME,...]

`run` executes the same Dagster job as the nightly schedule, prints progress and a
summary, and exits 0 only when the run published.
"""

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from pipeline.config import ConfigError, load_config
from pipeline.settings import ENV_OVERRIDES, RunPaths, parse_as_of, resolve_as_of

EXIT_PUBLISHED = 0
EXIT_NOT_PUBLISHED = 1
EXIT_USAGE = 2


def _as_of_arg(value: str) -> date:
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segmentation", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the nightly segmentation job once and publish")
    run.add_argument("--landing", help="landing folder (env SEGMENTATION_LANDING_DIR, default data/landing)")
    run.add_argument("--warehouse", help="warehouse file (env SEGMENTATION_WAREHOUSE, default data/warehouse/segments.duckdb)")
    run.add_argument("--as-of", type=_as_of_arg, help="as-of date (env SEGMENTATION_AS_OF, default today in the configured timezone)")
    run.add_argument("--config", help="rules configuration laid over the defaults (env SEGMENTATION_CONFIG)")
    run.add_argument("--overrides", help="overrides CSV (env SEGMENTATION_OVERRIDES, default <landing>/overrides.csv)")
    run.add_argument("--allow-row-drop", action="store_true", help="accept a fall of the published row count over the gate's limit, for this run")

    demo = commands.add_parser("demo-data", help="write realistic demo extracts into a landing folder")
    demo.add_argument("--out", required=True, help="landing folder to write")
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--as-of", type=_as_of_arg, help="last extract date (default today, UTC)")
    demo.add_argument("--format", choices=["csv", "parquet", "mixed"], default="csv", dest="file_format")

    rollback = commands.add_parser("rollback", help="restore the previous publication of the warehouse atomically")
    rollback.add_argument("--warehouse", help="warehouse file (env SEGMENTATION_WAREHOUSE, default data/warehouse/segments.duckdb)")
    rollback.add_argument("--reason", help="why, recorded in analytics.publications")

    reliability = commands.add_parser(
        "reliability", help="run the bad-input corpus through the real pipeline and print the reliability table"
    )
    reliability.add_argument("--full", action="store_true", help="run every case (default: a representative subset)")
    reliability.add_argument("--cases", help="comma-separated case names to run (see --list)")
    reliability.add_argument("--list", action="store_true", help="list the cases with their expected outcome and exit")
    reliability.add_argument("--work-dir", help="where the case folders go (default: a temporary folder, removed)")
    reliability.add_argument("--keep", action="store_true", help="with --work-dir: keep every case folder (failed ones are always kept there)")
    reliability.add_argument("--verbose", action="store_true", help="show the pipeline's progress output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "reliability":
        return reliability_command(args)
    if args.command == "run":
        return run_command(args)
    if args.command == "rollback":
        return rollback_command(args)
    return demo_data_command(args)


def demo_data_command(args: argparse.Namespace) -> int:
    from pipeline.demo_data import generate_demo_data

    summary = generate_demo_data(
        Path(args.out), accounts=args.accounts, seed=args.seed, as_of=args.as_of, file_format=args.file_format
    )
    print(
        f"wrote {len(summary.files)} files for {summary.accounts} accounts (seed {summary.seed}, "
        f"{summary.file_format}) to {summary.out_dir}, history {summary.history_start} .. {summary.as_of}"
    )
    for entity, rows in sorted(summary.rows.items()):
        print(f"  {entity}: {rows} rows as of {summary.as_of}")
    print(f"  {len(summary.malformed)} deliberately malformed rows, {len(summary.overrides)} override rows")
    return EXIT_PUBLISHED


def run_command(args: argparse.Namespace) -> int:
    paths = RunPaths.resolve(args.landing, args.warehouse, args.config, args.overrides)
    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        print(f"segmentation: {error}", file=sys.stderr)
        return EXIT_USAGE
    as_of = resolve_as_of(args.as_of, config.general.timezone)
    if not paths.landing_dir.is_dir():
        print(
            f"segmentation: landing folder {paths.landing_dir} does not exist "
            "(write demo extracts with `segmentation demo-data --out DIR`, or pass --landing)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    print(f"segmentation run as of {as_of} | landing {paths.landing_dir} | warehouse {paths.warehouse}", file=sys.stderr)
    from pipeline.runner import run_nightly_job

    outcome = run_nightly_job(
        paths, as_of, allow_row_drop=args.allow_row_drop,
        overrides_named=bool(args.overrides or os.environ.get(ENV_OVERRIDES)),
    )
    print(outcome.summary())
    return EXIT_PUBLISHED if outcome.published else EXIT_NOT_PUBLISHED


def rollback_command(args: argparse.Namespace) -> int:
    """Restore the previous publication (exit 0), or say why not (exit 1)."""
    from pipeline.publish import PublishError, rollback

    warehouse = RunPaths.resolve(warehouse=args.warehouse).warehouse
    try:
        done = rollback(warehouse, reason=args.reason)
    except PublishError as error:
        print(f"segmentation rollback: {error}", file=sys.stderr)
        return EXIT_NOT_PUBLISHED
    print(
        f"ROLLED BACK {done.warehouse}: restored run {done.restored_run_id} (as of {done.restored_as_of}, "
        f"{done.restored_rows} accounts) in place of run {done.replaced_run_id} (as of {done.replaced_as_of}); "
        "recorded in analytics.publications. Run `segmentation rollback` again to undo."
    )
    return EXIT_PUBLISHED


def reliability_command(args: argparse.Namespace) -> int:
    """The bad-input corpus through the real nightly job: exit 0 only when every case is
    as expected and no row is lost."""
    import tempfile

    from pipeline.reliability import run_report, select_cases
    from pipeline.reliability.cases import CASES, REPRESENTATIVE

    if args.list:
        for case in CASES:
            marker = "*" if case.name in REPRESENTATIVE else " "
            print(f"{marker} {case.name:28} {case.expected:21} {case.description}")
        print("(* = in the default representative subset)")
        return EXIT_PUBLISHED
    names = [n.strip() for n in args.cases.split(",") if n.strip()] if args.cases else None
    try:
        cases = select_cases(names, full=args.full)
    except KeyError as error:
        print(f"segmentation: {error.args[0]}", file=sys.stderr)
        return EXIT_USAGE

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="segmentation-reliability-") as tmp:
        root = Path(args.work_dir) if args.work_dir else Path(tmp)
        report = run_report(cases, root, quiet=not args.verbose, keep=args.keep, progress=progress)
        print(report.table())
    return EXIT_PUBLISHED if report.ok else EXIT_NOT_PUBLISHED


def console_main() -> None:
    """The `segmentation` console script."""
    code = main()
    # After great-expectations has inspected DuckDB through SQLAlchemy, DuckDB's
    # nanobind bindings print a harmless "leaked instances" report during interpreter
    # teardown; skip the teardown so the summary stays the last thing printed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
