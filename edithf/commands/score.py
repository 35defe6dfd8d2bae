"""`edithf score`: one edit scored by any scorer, JSON on stdout."""
from __future__ import annotations

import json


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
    parser.add_argument("--model", default="classic", help="scorer name (see `edithf scorers`), default classic")
    parser.add_argument("--source", required=True, help="the source image file")
    parser.add_argument("--edited", required=True, help="the edited image file")
    parser.add_argument("--prompt", required=True, help="the editing instruction")
    add_weights_argument(parser)


def run(args) -> int:
    from edithf.evaluators.registry import create_evaluator

    evaluator = create_evaluator(args.model, **scorer_kwargs(args))
    row = evaluator.score_one(args.source, args.edited, args.prompt)
    result = {"scorer": args.model, "source": args.source, "edited": args.edited, "prompt": args.prompt,
              "scores": {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}}
    print(json.dumps(result, indent=2))
    return 0
