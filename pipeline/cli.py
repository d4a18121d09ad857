"""`segmentation`: the console command (data contract, section 4).

    segmentation run [--landing DIR] [--warehouse FILE] [--as-of YYYY-MM-DD]
                     [--config FILE] [--overrides FILE] [--allow-row-drop] [--target duckdb|spark]
    segmentation backfill --from YYYY-MM-DD --to YYYY-MM-DD [--landing DIR] [--warehouse FILE]
                          [--config FILE] [--overrides FILE] [--allow-row-drop]
    segmentation demo-data --out DIR [--accounts N] [--seed S] [--as-of YYYY-MM-DD]
    segmentation rollback [--warehouse FILE] [--reason TEXT]
    segmentation docs [--warehouse FILE] [--config FILE]
    segmentation bench [--accounts N] [--pandas-accounts N] [--format csv|parquet] [--work-dir DIR]
    segmentation reliability [--full] [--cases NAME,...]
    segmentation what-if --config FILE [--landing DIR] [--warehouse FILE] [--overrides FILE]

`run` executes the same Dagster job as the nightly schedule, prints progress and a
summary, and exits 0 only when the run published.
"""

import argparse
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from pipeline.config import ConfigError, load_config
from pipeline.settings import ENV_OVERRIDES, TARGETS, RunPaths, parse_as_of, resolve_as_of, resolve_target

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
    run.add_argument(
        "--target", choices=TARGETS,
        help="engine: duckdb (the warehouse file) or spark (dbt's `spark` target: Spark catalog, views "
        "analytics.*) (env SEGMENTATION_TARGET, default duckdb)",
    )

    backfill = commands.add_parser(
        "backfill",
        help="run the nightly job for every date of a range, oldest first (builds the segment history "
        "as running those nights did)",
    )
    backfill.add_argument("--from", dest="first", type=_as_of_arg, required=True, help="first as-of date")
    backfill.add_argument("--to", dest="last", type=_as_of_arg, required=True, help="last as-of date (included)")
    for flag in ("--landing", "--warehouse", "--config", "--overrides"):
        backfill.add_argument(flag, help=next(a.help for a in run._actions if flag in a.option_strings))
    backfill.add_argument("--allow-row-drop", action="store_true", help="accept a large fall of the row count on every date")
    backfill.add_argument("--target", choices=TARGETS, help=next(a.help for a in run._actions if "--target" in a.option_strings))

    demo = commands.add_parser("demo-data", help="write realistic demo extracts into a landing folder")
    demo.add_argument("--out", required=True, help="landing folder to write")
    demo.add_argument("--accounts", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--as-of", type=_as_of_arg, help="last extract date (default today, UTC)")
    demo.add_argument("--format", choices=["csv", "parquet", "mixed"], default="csv", dest="file_format")

    docs = commands.add_parser(
        "docs", help="write dbt's documentation of the models and columns as one page beside the warehouse"
    )
    docs.add_argument("--warehouse", help="warehouse file (env SEGMENTATION_WAREHOUSE, default data/warehouse/segments.duckdb)")
    docs.add_argument("--config", help="rules configuration laid over the defaults (env SEGMENTATION_CONFIG)")

    bench = commands.add_parser(
        "bench",
        help="measure the pipeline per stage against the floor (one DuckDB script) and the pandas reference",
    )
    bench.add_argument("--accounts", type=int, default=10_000, help="demo accounts (default 10000)")
    bench.add_argument("--pandas-accounts", type=int, default=100_000,
                       help="largest scale for the pandas reference (default 100000); the pipeline is also run there")
    bench.add_argument("--format", choices=["csv", "parquet"], default="csv", dest="file_format")
    bench.add_argument("--work-dir", default="data/bench",
                       help="where demo data (kept and reused) and the runs go (default data/bench)")

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

    what_if = commands.add_parser(
        "what-if",
        help="compute every dimension with a candidate configuration on the inputs of the latest publication "
        "and show which accounts would move (publishes nothing)",
    )
    what_if.add_argument("--config", required=True, help="the candidate rules configuration, laid over the defaults")
    what_if.add_argument("--landing", help="landing folder (env SEGMENTATION_LANDING_DIR, default data/landing)")
    what_if.add_argument("--warehouse", help="warehouse file (env SEGMENTATION_WAREHOUSE, default data/warehouse/segments.duckdb)")
    what_if.add_argument("--overrides", help="overrides CSV (env SEGMENTATION_OVERRIDES, default <landing>/overrides.csv)")
    what_if.add_argument("--examples", type=int, default=3, help="example account ids per move (default 3)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "reliability":
        return reliability_command(args)
    if args.command == "run":
        return run_command(args)
    if args.command == "rollback":
        return rollback_command(args)
    if args.command == "what-if":
        return what_if_command(args)
    if args.command == "backfill":
        return backfill_command(args)
    if args.command == "docs":
        return docs_command(args)
    if args.command == "bench":
        return bench_command(args)
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


def _run_paths(args: argparse.Namespace):
    """The run's paths and configuration, or None after saying what is wrong."""
    paths = RunPaths.resolve(args.landing, args.warehouse, args.config, args.overrides)
    try:
        config = load_config(paths.config_file)
    except ConfigError as error:
        print(f"segmentation: {error}", file=sys.stderr)
        return None
    if not paths.landing_dir.is_dir():
        print(
            f"segmentation: landing folder {paths.landing_dir} does not exist "
            "(write demo extracts with `segmentation demo-data --out DIR`, or pass --landing)",
            file=sys.stderr,
        )
        return None
    return paths, config


def _target(args: argparse.Namespace) -> str | None:
    """The run's engine (--target, SEGMENTATION_TARGET, duckdb), or None after saying what is wrong."""
    try:
        target = resolve_target(getattr(args, "target", None))
    except ValueError as error:
        print(f"segmentation: {error}", file=sys.stderr)
        return None
    if target == "spark":
        from pipeline.spark.session import SparkUnavailable, require_spark

        try:
            require_spark()
        except SparkUnavailable as error:
            print(f"segmentation: target spark: {error}", file=sys.stderr)
            return None
    return target


def run_command(args: argparse.Namespace) -> int:
    resolved = _run_paths(args)
    if resolved is None:
        return EXIT_USAGE
    target = _target(args)
    if target is None:
        return EXIT_USAGE
    paths, config = resolved
    as_of = resolve_as_of(args.as_of, config.general.timezone)

    where = f"Spark catalog in {paths.spark_home}" if target == "spark" else f"warehouse {paths.warehouse}"
    print(f"segmentation run as of {as_of} | landing {paths.landing_dir} | {where}", file=sys.stderr)
    from pipeline.runner import run_nightly_job

    outcome = run_nightly_job(
        paths, as_of, allow_row_drop=args.allow_row_drop,
        overrides_named=bool(args.overrides or os.environ.get(ENV_OVERRIDES)), target=target,
    )
    print(outcome.summary())
    return EXIT_PUBLISHED if outcome.published else EXIT_NOT_PUBLISHED


def backfill_command(args: argparse.Namespace) -> int:
    """Every date from --from to --to, oldest first, each a full run of the nightly job
    (the history is built in date order; a date older than the latest publication
    rebuilds it from that date on). Stops at the first run that does not publish."""
    if args.last < args.first:
        print("segmentation backfill: --to is before --from", file=sys.stderr)
        return EXIT_USAGE
    resolved = _run_paths(args)
    if resolved is None:
        return EXIT_USAGE
    paths, _config = resolved
    target = _target(args)
    if target is None:
        return EXIT_USAGE
    from pipeline.runner import run_nightly_job

    days = (args.last - args.first).days + 1
    for offset in range(days):
        as_of = args.first + timedelta(days=offset)
        print(f"segmentation backfill {offset + 1}/{days}: as of {as_of}", file=sys.stderr)
        outcome = run_nightly_job(
            paths, as_of, allow_row_drop=args.allow_row_drop,
            overrides_named=bool(args.overrides or os.environ.get(ENV_OVERRIDES)), target=target,
        )
        print(outcome.summary().splitlines()[0])
        if not outcome.published:
            print(outcome.summary())
            print(f"backfill stopped at {as_of}: later dates were not run", file=sys.stderr)
            return EXIT_NOT_PUBLISHED
    return EXIT_PUBLISHED


def bench_command(args: argparse.Namespace) -> int:
    from pipeline.bench.bench import BenchError, run_bench

    if args.accounts < 1 or args.pandas_accounts < 1:
        print("segmentation bench: --accounts and --pandas-accounts must be positive", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = run_bench(
            args.accounts, Path(args.work_dir).resolve(), pandas_accounts=args.pandas_accounts,
            file_format=args.file_format, progress=lambda message: print(f"bench: {message}", file=sys.stderr, flush=True),
        )
    except BenchError as error:
        print(f"segmentation bench: {error}", file=sys.stderr)
        return EXIT_NOT_PUBLISHED
    print(result.table())
    return EXIT_PUBLISHED


def docs_command(args: argparse.Namespace) -> int:
    from pipeline.docs import DocsError, generate_docs

    paths = RunPaths.resolve(warehouse=args.warehouse, config_file=args.config)
    try:
        config = load_config(paths.config_file)
        page = generate_docs(paths, config, resolve_as_of(None, config.general.timezone))
    except (ConfigError, DocsError) as error:
        print(f"segmentation docs: {error}", file=sys.stderr)
        return EXIT_NOT_PUBLISHED
    print(f"documentation: {page} (open it in a browser; `dbt docs serve` is not needed)")
    return EXIT_PUBLISHED


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


def what_if_command(args: argparse.Namespace) -> int:
    """Exit 0 when the comparison was produced, 2 on a usage, configuration or
    no-publication error (nothing ran), 1 when the candidate build failed."""
    try:  # before the (slow) pipeline imports: a bad candidate is refused at once
        load_config(Path(args.config))
    except ConfigError as error:
        print(f"segmentation what-if: {error}", file=sys.stderr)
        return EXIT_USAGE
    from pipeline.what_if import WhatIfError, run_what_if

    paths = RunPaths.resolve(args.landing, args.warehouse, None, args.overrides)
    try:
        result = run_what_if(
            paths, Path(args.config), examples_per_move=max(1, args.examples),
            overrides_named=bool(args.overrides or os.environ.get(ENV_OVERRIDES)),
        )
    except WhatIfError as error:
        print(f"segmentation what-if: {error}", file=sys.stderr)
        return error.exit_code
    print(result.summary())
    return EXIT_PUBLISHED if result.report_error is None else EXIT_NOT_PUBLISHED


def console_main() -> None:
    """The `segmentation` console script."""
    code = main()
    # After great-expectations has inspected DuckDB through SQLAlchemy, DuckDB's
    # nanobind bindings print a harmless "leaked instances" report during interpreter
    # teardown; skip the teardown so the summary stays the last thing printed. The
    # multiprocessing finalizers still run: they unlink the semaphore of dbt's manifest
    # lock, which the resource tracker would otherwise report as leaked.
    import multiprocessing.util

    multiprocessing.util._exit_function()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
