"""`edithf pairs`: DPO preference pairs, Self-DPO (N seeds of one model, scored) or Global-DPO
(a human-annotated dataset)."""
from __future__ import annotations

import json

from edithf.commands.score import add_weights_argument, parse_weights


def add_arguments(parser) -> None:
    from edithf.reward.pairs import DEFAULT_MIN_SCORE, GENERATION_COLUMNS

    sub = parser.add_subparsers(dest="kind", required=True)
    own = sub.add_parser("self", help="pairs from N seeds per instruction scored by a scorer")
    own.add_argument("--generations", required=True,
                     help=f"table with columns {', '.join(GENERATION_COLUMNS)} (paths relative to its folder)")
    own.add_argument("--model", default="classic", help="the scorer (see `edithf scorers`), default classic")
    own.add_argument("--batch-size", type=int, default=8)
    glob = sub.add_parser("global", help="pairs from the human ranks of an annotated dataset")
    glob.add_argument("dataset", help="dataset folder with rank_<dim> (or mos_<dim>) columns")
    glob.add_argument("--dimension", default="overall", choices=["overall", "quality", "alignment", "preservation"])
    glob.add_argument("--split", default=None, choices=["train", "val", "test"])
    for p in (own, glob):
        p.add_argument("--out", required=True, help="the pairs table (.parquet)")
        p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE,
                       help="drop instructions/groups whose best edit scores below this (0-100)")
        add_weights_argument(p)


def run(args) -> int:
    from edithf.reward.pairs import EQUAL_WEIGHTS, global_pairs, self_pairs

    weights = parse_weights(args.weights)
    if args.kind == "self":
        pairs = self_pairs(args.generations, args.model, args.out, weights=weights or EQUAL_WEIGHTS,
                           min_score=args.min_score, batch_size=args.batch_size)
    else:
        pairs = global_pairs(args.dataset, args.out, dimension=args.dimension, weights=weights,
                             min_score=args.min_score, split=args.split)
    print(json.dumps({**pairs.attrs["report"], "out": args.out}, indent=2, default=str))
    return 0
