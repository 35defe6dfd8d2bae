"""`edithf pairs`: DPO preference pairs (schema: edithf/dpo/pairs_data.py). Global-DPO from the
human ranks of an annotated dataset; Self-DPO from N seeds per instruction of one editor,
scored by a scorer, either already generated (`--generations`) or generated here through a
diffusers pipeline (`--pipeline`, resumable)."""
from __future__ import annotations

import json
import sys

from edithf.commands.score import add_weights_argument, parse_weights
from edithf.commands.scorers import add_judging_scorer_argument, require_judging_scorer


def _add_self(sub):
    from edithf.dpo.self_dpo import DEFAULT_SEEDS
    from edithf.reward.pairs import DEFAULT_KEEP_FRACTION, GENERATION_COLUMNS

    own = sub.add_parser("self", help="Self-DPO: N seeds per instruction scored by a scorer")
    src = own.add_mutually_exclusive_group(required=True)
    src.add_argument("--generations",
                     help=f"table with columns {', '.join(GENERATION_COLUMNS)} (paths relative to its folder)")
    src.add_argument("--pipeline", help="generate the seeds with this diffusers editing pipeline: folder, hub id "
                     "or tiny:<family>; needs --instructions and --run-dir")
    own.add_argument("--instructions", help="with --pipeline: table of source, prompt (+ task, instruction_id)")
    own.add_argument("--run-dir", help="with --pipeline: the run folder (edits, scores, pairs.parquet; resumable)")
    own.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=f"seeds per instruction (default {DEFAULT_SEEDS}, the paper's)")
    own.add_argument("--steps", type=int, default=28, help="inference steps of the pipeline (default 28)")
    own.add_argument("--area", type=int, default=None, help="working resolution in pixels; default: the pipeline's")
    own.add_argument("--device", default="auto", help="device of the pipeline (default: the GPU when there is one)")
    own.add_argument("--restart", action="store_true", help="discard what an earlier run left in --run-dir")
    own.add_argument("--keep-fraction", type=float, default=DEFAULT_KEEP_FRACTION,
                     help=f"the share of each task's pairs kept, best first (default {DEFAULT_KEEP_FRACTION}: the better half)")
    own.add_argument("--overall-weights", default=None,
                     help="weights of quality,alignment,preservation of the overall score that ranks the pairs "
                     "and judges 'low' (default 0.3,0.4,0.3; 1,1,1 for equal)")
    own.add_argument("--out", help="the pairs table (.parquet); with --pipeline default RUN_DIR/pairs.parquet")
    own.add_argument("--weights", default=None,
                     help="weights of quality,alignment,preservation that pick chosen and rejected "
                     "(default 1,1,1: the paper's average of the three)")
    return own


def _add_global(sub):
    glob = sub.add_parser("global", help="Global-DPO: pairs from the human ranks of an annotated dataset")
    glob.add_argument("dataset", help="dataset folder with rank_<dim> (or mos_<dim>) columns")
    glob.add_argument("--dimension", default="overall", choices=["overall", "quality", "alignment", "preservation"])
    glob.add_argument("--split", default="train", choices=["train", "val", "test", "all"],
                      help="the split the pairs come from (default train; test or all need --allow-test)")
    glob.add_argument("--allow-test", action="store_true",
                      help="allow the test split (it is what the evaluator and the benchmarks are measured on)")
    glob.add_argument("--out", required=True, help="the pairs table (.parquet)")
    add_weights_argument(glob)
    return glob


def add_arguments(parser) -> None:
    from edithf.reward.pairs import DEFAULT_MIN_SCORE

    sub = parser.add_subparsers(dest="kind", required=True)
    for p in (_add_self(sub), _add_global(sub)):
        p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE,
                       help="drop instructions/groups whose best edit scores below this (0-100)")
        p.add_argument("--batch-size", type=int, default=8, help="scoring batch size")
        add_judging_scorer_argument(p)


def _self(args):
    from edithf.reward.pairs import EQUAL_WEIGHTS

    scorer = require_judging_scorer(args.scorer, "edithf pairs self")
    rules = dict(weights=parse_weights(args.weights) or EQUAL_WEIGHTS, overall_weights=parse_weights(args.overall_weights),
                 min_score=args.min_score, keep_fraction=args.keep_fraction, batch_size=args.batch_size)
    if args.generations:
        if not args.out:
            raise ValueError("edithf pairs self --generations needs --out (the pairs table)")
        from edithf.reward.pairs import self_pairs

        return self_pairs(args.generations, scorer, args.out, **rules), args.out
    if not (args.instructions and args.run_dir):
        raise ValueError("edithf pairs self --pipeline needs --instructions TABLE and --run-dir FOLDER")
    from edithf.dpo.self_dpo import run_self_dpo

    pairs = run_self_dpo(args.pipeline, args.instructions, args.run_dir, scorer, n_seeds=args.seeds,
                         num_inference_steps=args.steps, area=args.area, device=args.device,
                         resume=not args.restart, **rules)
    if args.out:
        from edithf.utils.io import write_table

        write_table(pairs, args.out)
    return pairs, args.out or f"{args.run_dir}/pairs.parquet"


def _global(args):
    from edithf.reward.pairs import global_pairs

    # the scorer only judges "all edits low" for groups that have ranks but no MOS
    scorer = require_judging_scorer(args.scorer, "edithf pairs global") if args.scorer else None
    pairs = global_pairs(args.dataset, args.out, dimension=args.dimension, weights=parse_weights(args.weights),
                         min_score=args.min_score, split=args.split, allow_test=args.allow_test,
                         scorer=scorer, batch_size=args.batch_size)
    report = pairs.attrs["report"]
    print(f"Global-DPO pairs from split {report['split']!r}", file=sys.stderr)
    if report.get("low_not_judged"):
        print(f"warning: {report['low_not_judged']} group(s) have ranks but no MOS, so 'all edits low' was not "
              "judged for them; give --scorer edithf:<run>/best (or set EDITHF_SCORER) to judge them",
              file=sys.stderr)
    return pairs, args.out


def run(args) -> int:
    pairs, out = _self(args) if args.kind == "self" else _global(args)
    print(json.dumps({**pairs.attrs["report"], "out": str(out)}, indent=2, default=str))
    return 0
