"""`edithf sanity`: sanity probes of a scorer (black image, noise, random instruction, identity
edit, swap, constant scores, identical dimensions, untrained LoRA adapters)."""
from __future__ import annotations

import json

from edithf.commands.scorers import add_scorer_argument


def add_arguments(parser) -> None:
    add_scorer_argument(parser)
    parser.add_argument("--dataset", default=None, help="dataset folder (default: the demo benchmark, built once)")
    parser.add_argument("--n", type=int, default=8, help="number of edits (one per group) to probe with")
    parser.add_argument("--min-drop", type=float, default=5.0, help="points (of 0-100) a score must drop by")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 when a probe fails")


def run(args) -> int:
    from edithf.sanity import run_sanity

    report = run_sanity(args.scorer, args.dataset, n=args.n, min_drop=args.min_drop, batch_size=args.batch_size)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    return 1 if args.strict and not report.passed else 0
