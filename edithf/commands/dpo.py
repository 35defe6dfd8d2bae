"""`edithf dpo train CONFIG.yaml [key=value ...]`: Diffusion-/Flow-DPO of an editing pipeline
(`edithf dpo CONFIG.yaml ...` is the same command).
`edithf dpo evaluate --pipeline P --lora DIR --instructions TABLE --scorer SCORER`: base vs tuned.
`edithf dpo toy-pairs OUT_DIR`: a small brighter-vs-darker preference set for the tiny configs.
`edithf dpo fields`: the config keys with their help.

Multi-GPU / mixed precision: `accelerate launch -m edithf dpo train CONFIG.yaml`.
"""
from __future__ import annotations

import argparse
import sys

from edithf.commands.scorers import add_judging_scorer_argument, require_judging_scorer

ACTIONS = ("train", "evaluate", "toy-pairs", "fields")


def normalize_argv(argv: list[str]) -> list[str]:
    """`edithf dpo CONFIG.yaml ...` (the studio's job runner, accelerate examples) means
    `edithf dpo train CONFIG.yaml ...`; `--fields` means `fields`."""
    if argv and argv[0] == "--fields":
        return ["fields", *argv[1:]]
    if argv and not argv[0].startswith("-") and argv[0] not in ACTIONS:
        return ["train", *argv]
    return argv


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="DPO-train a LoRA from a config YAML (edithf dpo fields: its keys)",
                           epilog="stop a run cooperatively with `touch OUTPUT_DIR/STOP`")
    train.add_argument("config", help="a DPO config YAML, e.g. configs/dpo_tiny_flux_kontext.yaml")
    train.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    train.set_defaults(handler=_train)


def _add_evaluate(sub) -> None:
    ev = sub.add_parser("evaluate", help="base vs DPO-tuned pipeline: edits scored by a scorer")
    ev.add_argument("--pipeline", help="base pipeline: folder, hub id or tiny:<family>")
    ev.add_argument("--lora", help="the LoRA folder of a DPO run (output_dir/best)")
    ev.add_argument("--instructions", help="table with columns source, prompt (+ task)")
    add_judging_scorer_argument(ev)
    ev.add_argument("--seeds", default="0", help="comma-separated seeds per instruction (default 0)")
    ev.add_argument("--steps", type=int, default=28, help="inference steps (default 28)")
    ev.add_argument("--area", type=int, default=None,
                    help="working resolution in pixels (e.g. 1024 = 32x32 for tiny pipelines); default: the pipeline's")
    ev.add_argument("--out", default=None, help="folder for edits, scores.parquet and report.md")
    ev.set_defaults(handler=_evaluate)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "train:     edithf dpo train configs/dpo_tiny_flux_kontext.yaml max_steps=200 output_dir=runs/dpo\n"
        "evaluate:  edithf dpo evaluate --pipeline tiny:flux_kontext --lora runs/dpo/best "
        "--instructions instr.csv --scorer edithf:runs/x/best --area 1024\n"
        "toy-pairs: edithf dpo toy-pairs runs/toy_pairs\n"
        "`edithf dpo CONFIG.yaml ...` is `edithf dpo train CONFIG.yaml ...`."
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="{" + ",".join(ACTIONS) + "}")
    _add_train(sub)
    _add_evaluate(sub)
    toy = sub.add_parser("toy-pairs", help="a small brighter-vs-darker preference set for the tiny configs")
    toy.add_argument("out_dir", help="folder for the images and pairs.parquet")
    toy.set_defaults(handler=_toy_pairs)
    sub.add_parser("fields", help="list the config keys with their help").set_defaults(handler=_print_fields)


def _print_fields(args) -> int:
    from edithf.config import describe_fields
    from edithf.dpo.dpo_config import DPOConfig

    for row in describe_fields(DPOConfig):
        choices = f" {row['choices']}" if row["choices"] else ""
        print(f"{row['name']:<22} {row['type']:<6} default={row['default']!r}{choices}\n    {row['help']}")
    return 0


def _evaluate(args) -> int:
    from edithf.dpo.evaluate import evaluate_lora

    missing = [f"--{k}" for k in ("pipeline", "lora", "instructions") if not getattr(args, k)]
    if missing:
        raise ValueError(f"edithf dpo evaluate needs {', '.join(missing)}")
    scorer = require_judging_scorer(args.scorer, "edithf dpo evaluate")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    result = evaluate_lora(args.pipeline, args.lora, args.instructions, scorer=scorer, seeds=seeds,
                           num_inference_steps=args.steps, area=args.area, out_dir=args.out)
    print(result.to_markdown())
    return 0


def _toy_pairs(args) -> int:
    from edithf.dpo.toy_pairs import make_toy_pairs

    print(make_toy_pairs(args.out_dir))
    return 0


def _train(args) -> int:
    from edithf.config import config_to_yaml, load_config
    from edithf.dpo.dpo_config import DPOConfig
    from edithf.dpo.dpo_trainer import train_dpo

    cfg = load_config(DPOConfig, args.config, args.overrides)
    print(config_to_yaml(cfg), file=sys.stderr)
    best = train_dpo(cfg)
    print(f"LoRA written to {best} (load it with pipe.load_lora_weights('{best}'))")
    return 0


def run(args) -> int:
    return args.handler(args)
