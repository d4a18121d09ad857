"""`segmentation`: the console command (data contract, section 4).

    segmentation run [--landing DIR] [--warehouse FILE] [--as-of YYYY-MM-DD]
                     [--config FILE] [--overrides FILE] [--allow-row-drop]
    segmentation demo-data --out DIR [--accounts N] [--seed S] [--as-of YYYY-MM-DD]

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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        return run_command(args)
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
