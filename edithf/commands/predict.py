"""`edithf predict`: score a whole dataset with any scorer (batched, resumable). Under
`accelerate launch` or `torchrun` each process scores its own shard of whole groups and the
main process merges them into `--out` (`edithf.predict`)."""
from __future__ import annotations

from edithf.commands.score import add_weights_argument, scorer_kwargs
from edithf.commands.scorers import add_scorer_argument


def add_arguments(parser) -> None:
    parser.add_argument("dataset", help="dataset folder (interchange format)")
    add_scorer_argument(parser)
    parser.add_argument("--out", required=True, help="predictions table: .parquet, .csv or .jsonl")
    parser.add_argument("--split", default=None, choices=["train", "val", "test"], help="score only this split")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-resume", action="store_true", help="ignore finished batches of an earlier run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_weights_argument(parser)


def run(args) -> int:
    import math

    from edithf.evaluators.registry import create_evaluator
    from edithf.predict import init_processes, predict_dataset, process_shard

    rank, world = process_shard()
    if world > 1:
        init_processes()  # before the scorer is built: each process on its own GPU
    evaluator = create_evaluator(args.scorer, **scorer_kwargs(args))
    table = predict_dataset(evaluator, args.dataset, args.out, split=args.split, batch_size=args.batch_size,
                            resume=not args.no_resume, progress=not args.no_progress and rank == 0,
                            shard=(rank, world))
    if rank == 0:
        means = table[["quality", "alignment", "preservation", "overall"]].mean()  # NaN: a dimension not judged
        print(f"wrote {len(table)} predictions to {args.out}" + (f" ({world} processes)" if world > 1 else "")
              + "; means: " + ", ".join(f"{k} {'n/a (not judged)' if math.isnan(v) else f'{v:.2f}'}"
                                        for k, v in means.items()))
    return 0
