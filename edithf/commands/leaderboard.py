"""`edithf leaderboard DATASET [--predictions P]`: per-editor or per-task leaderboards (an editor:
the editing model of an edit, the `model` column of the edits table)."""
from __future__ import annotations

import sys

from edithf.commands.score import add_weights_argument, parse_weights


def add_arguments(parser) -> None:
    parser.add_argument("dataset", help="dataset folder (interchange format)")
    parser.add_argument("--predictions", default=None,
                        help="rank editors by this scorer's predictions (.parquet/.csv/.jsonl) instead of the human data")
    parser.add_argument("--by", default="model", choices=["model", "task"], help="table to write: model = one row per editor (default), or task")
    parser.add_argument("--format", default=None, choices=["csv", "json", "md"],
                        help="output format (default: from --out's suffix, else md)")
    parser.add_argument("--out", default=None, help="write to this file (atomically) instead of stdout")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap rounds for the Elo CIs (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--confidence", type=float, default=0.95, help="CI level (default 0.95)")
    parser.add_argument("--split", default=None, help="only this split (default: every edit)")
    parser.add_argument("--anchor", default=None, help="editor pinned at Elo 1000 (default: the mean is 1000)")
    add_weights_argument(parser)


def _format(args) -> str:
    if args.format:
        return args.format
    suffix = (args.out or "").rsplit(".", 1)[-1].lower()
    return {"csv": "csv", "json": "json", "md": "md"}.get(suffix, "md")


def run(args) -> int:
    from edithf.data.dataset import load_dataset
    from edithf.leaderboard import build_leaderboard
    from edithf.utils.io import read_table

    dataset = load_dataset(args.dataset, check_images=False)
    predictions = read_table(args.predictions) if args.predictions else None
    board = build_leaderboard(dataset, predictions, by=args.by, weights=parse_weights(args.weights),
                              n_bootstrap=args.bootstrap, seed=args.seed, confidence=args.confidence,
                              split=args.split, anchor=args.anchor)
    writer = {"csv": board.to_csv, "json": board.to_json, "md": board.to_markdown}[_format(args)]
    text = writer(args.out)
    if args.out:
        print(f"wrote the {args.by} leaderboard ({board.meta['n_models']} models, "
              f"{board.meta['n_groups']} groups) to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
