"""`edge-bodypix bench`: the benchmark suite (code in benchmarks/suite)."""

from __future__ import annotations

import sys

from ..backends.registry import backend_names
from .common import fail, positive_int_arg


def add_parser(commands) -> None:
    parser = commands.add_parser("bench", help="benchmark models x resolutions, with accuracy, as a report",
                                 description="Time every installed model at several resolutions (interleaved in "
                                 "one run), score it on the COCO sets, and write results.json, results.csv and "
                                 "report.md (with plots when matplotlib is installed).")
    parser.add_argument("--quick", action="store_true", help="a small matrix (a few minutes at most)")
    parser.add_argument("--output-dir", default="bench-results", help="where to write (default bench-results)")
    parser.add_argument("--models", nargs="+", metavar="MODEL", help="models to time (default: all installed)")
    parser.add_argument("--resolutions", nargs="+", metavar="R",
                        help="low/medium/high/full and/or model input widths such as 257 481")
    parser.add_argument("--backends", nargs="+", choices=backend_names(auto=False), help="backends to include")
    parser.add_argument("--rounds", type=positive_int_arg, help="measured rounds (default 20, quick 3)")
    parser.add_argument("--threads", type=positive_int_arg, help="interpreter threads (default all cores)")
    parser.add_argument("--no-generated", action="store_true",
                        help="skip timing-only models with generated weights for combinations not installed")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                        help="print two result files side by side with ratios, and exit")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from ..benchsuite import compare, runner

    if args.compare:
        try:
            print(compare.compare(*args.compare), end="")
        except (OSError, ValueError, KeyError) as exc:
            return fail(f"cannot compare {args.compare[0]} and {args.compare[1]}: {exc}")
        return 0
    paths = runner.run(args.output_dir, args.quick, args.models, args.resolutions, args.backends, args.rounds,
                       args.threads, argv=sys.argv, generated=not args.no_generated)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
