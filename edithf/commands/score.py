"""`edithf score`: one edit scored by any scorer, JSON on stdout."""
from __future__ import annotations

import json

from edithf.commands.scorers import add_scorer_argument


def add_weights_argument(parser) -> None:
    parser.add_argument("--weights", default=None,
                        help="weights of quality,alignment,preservation for `overall` (default 0.3,0.4,0.3)")


def parse_weights(text: str | None):
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise ValueError(f"--weights {text!r}: give three numbers, e.g. 0.3,0.4,0.3") from exc


def scorer_kwargs(args) -> dict:
    weights = parse_weights(getattr(args, "weights", None))
    return {} if weights is None else {"weights": weights}


def add_arguments(parser) -> None:
    add_scorer_argument(parser)
    parser.add_argument("--source", required=True, help="the source image file")
    parser.add_argument("--edited", required=True, help="the edited image file")
    parser.add_argument("--prompt", required=True, help="the editing instruction")
    add_weights_argument(parser)


def run(args) -> int:
    from edithf.data.images import MIN_SCORE_SIDE, load_image
    from edithf.evaluators.registry import create_evaluator
    from edithf.utils.io import json_safe

    for path in (args.source, args.edited):  # refuse what no metric can judge, before loading a model
        load_image(path, min_side=MIN_SCORE_SIDE)
    evaluator = create_evaluator(args.scorer, **scorer_kwargs(args))
    row = evaluator.score_one(args.source, args.edited, args.prompt)
    scores = json_safe(row)
    result = {"scorer": args.scorer, "source": args.source, "edited": args.edited, "prompt": args.prompt,
              "scores": scores}
    not_judged = [d for d in ("quality", "alignment", "preservation") if d not in evaluator.info.dimensions]
    if not_judged:
        result["not_judged"] = {"dimensions": not_judged, "reason": f"{evaluator.info.name} cannot judge them "
                                "(its `dimensions` in `edithf scorers --json`); overall averages the others"}
    unavailable = sorted(k for k, v in scores.items() if v is None and row[k] is not None and k not in not_judged)
    if unavailable:  # null, never NaN: the output stays valid JSON
        result["unavailable"] = {"scores": unavailable, "reason": "the scorer could not compute them for "
                                 "these images (too small for the metric's window, or constant)"}
    print(json.dumps(result, indent=2, allow_nan=False))
    return 0
