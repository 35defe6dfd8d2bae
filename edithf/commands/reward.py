"""`edithf reward`: best-of-N selection and dataset curation with a scorer as the reward."""
from __future__ import annotations

import json

from edithf.commands.score import add_weights_argument, parse_weights
from edithf.commands.scorers import add_scorer_argument


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    best = sub.add_parser("best-of-n", help="pick the best of N candidate edits of one source and prompt")
    best.add_argument("candidates", nargs="+", help="the candidate edited images")
    best.add_argument("--source", required=True, help="the source image")
    best.add_argument("--prompt", required=True, help="the editing instruction")
    cur = sub.add_parser("curate", help="keep the edits above a threshold or the top k%% per task")
    cur.add_argument("dataset", help="dataset folder to curate")
    cur.add_argument("out", help="folder for the kept subset (written atomically)")
    how = cur.add_mutually_exclusive_group(required=True)
    how.add_argument("--threshold", type=float, help="keep edits with reward_overall >= T (0-100)")
    how.add_argument("--top-percent", type=float, help="keep the top K%% of each task by reward_overall")
    cur.add_argument("--per", default="task", help="column inside which top-k%% is taken (task, model = the editor, ...); 'none' for global")
    cur.add_argument("--split", default=None, choices=["train", "val", "test"])
    for p in (best, cur):
        add_scorer_argument(p)
        p.add_argument("--batch-size", type=int, default=8)
        add_weights_argument(p)


def run(args) -> int:
    from edithf.reward.reward import EditReward

    reward = EditReward(args.scorer, weights=parse_weights(args.weights), batch_size=args.batch_size)
    if args.action == "best-of-n":
        from edithf.reward.selection import best_of_n

        from edithf.utils.io import json_safe

        index, scores = best_of_n(reward, args.source, args.candidates, args.prompt)
        scores.insert(0, "candidate", args.candidates)
        result = {"best_index": index, "best": None if index is None else args.candidates[index],
                  "scorer": args.scorer, "scores": scores.to_dict(orient="records")}
        if index is None:
            result["note"] = f"{args.scorer} gave no candidate an overall score: there is no best to pick"
        print(json.dumps(json_safe(result), indent=2, allow_nan=False))  # null, never NaN
        return 0 if index is not None else 1
    from edithf.reward.selection import curate

    per = None if args.per.lower() == "none" else args.per
    report = curate(args.dataset, args.out, reward, threshold=args.threshold, top_percent=args.top_percent,
                    per=per, split=args.split)
    print(json.dumps(report, indent=2))
    return 0
