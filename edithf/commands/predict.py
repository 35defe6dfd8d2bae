"""`edithf predict`: score a whole dataset with any scorer (batched, resumable)."""
from __future__ import annotations

from edithf.commands.score import add_weights_argument, scorer_kwargs


def add_arguments(parser) -> None:
    parser.add_argument("dataset", help="dataset folder (interchange format)")
    parser.add_argument("--model", default="classic", help="scorer name (see `edithf scorers`), default classic")
    parser.add_argument("--out", required=True, help="predictions table: .parquet, .csv or .jsonl")
    parser.add_argument("--split", default=None, choices=["train", "val", "test"], help="score only this split")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-resume", action="store_true", help="ignore finished batches of an earlier run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_weights_argument(parser)


def run(args) -> int:
    from edithf.evaluators.registry import create_evaluator
    from edithf.predict import predict_dataset

    evaluator = create_evaluator(args.model, **scorer_kwargs(args))
    table = predict_dataset(evaluator, args.dataset, args.out, split=args.split, batch_size=args.batch_size,
                            resume=not args.no_resume, progress=not args.no_progress)
    means = table[["quality", "alignment", "preservation", "overall"]].mean()
    print(f"wrote {len(table)} predictions to {args.out}; means: "
          + ", ".join(f"{k} {v:.2f}" for k, v in means.items()))
    return 0
