"""`edithf dpo CONFIG.yaml [key=value ...]`: Diffusion-/Flow-DPO of an editing pipeline.
`edithf dpo evaluate --pipeline P --lora DIR --instructions TABLE --model SCORER`: base vs tuned.
`edithf dpo toy-pairs OUT_DIR`: a small brighter-vs-darker preference set for the tiny configs.

Multi-GPU / mixed precision: `accelerate launch -m edithf dpo CONFIG.yaml`.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "train:    edithf dpo configs/dpo_tiny_qwen.yaml max_steps=200 output_dir=runs/dpo\n"
        "evaluate: edithf dpo evaluate --pipeline tiny:qwen_image_edit --lora runs/dpo/best "
        "--instructions instr.csv --model dummy --area 1024\n"
        "Config keys: `edithf dpo --fields`; stop a run cooperatively with `touch OUTPUT_DIR/STOP`."
    )
    parser.add_argument("config", nargs="?", help="a DPO config YAML, or `evaluate`, or `toy-pairs OUT_DIR`")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the config")
    parser.add_argument("--fields", action="store_true", help="list the config keys with their help and exit")
    group = parser.add_argument_group("evaluate (edithf dpo evaluate ...)")
    group.add_argument("--pipeline", help="base pipeline: folder, hub id or tiny:<family>")
    group.add_argument("--lora", help="the LoRA folder of a DPO run (output_dir/best)")
    group.add_argument("--instructions", help="table with columns source, prompt (+ task)")
    group.add_argument("--model", default="dummy", help="scorer from the registry (edithf scorers)")
    group.add_argument("--seeds", default="0", help="comma-separated seeds per instruction (default 0)")
    group.add_argument("--steps", type=int, default=28, help="inference steps (default 28)")
    group.add_argument("--area", type=int, default=None,
                       help="working resolution in pixels (e.g. 1024 = 32x32 for tiny pipelines); default: the pipeline's")
    group.add_argument("--out", default=None, help="folder for edits, scores.parquet and report.md")


def _print_fields() -> int:
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
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    result = evaluate_lora(args.pipeline, args.lora, args.instructions, scorer=args.model, seeds=seeds,
                           num_inference_steps=args.steps, area=args.area, out_dir=args.out)
    print(result.to_markdown())
    return 0


def _toy_pairs(args) -> int:
    from edithf.dpo.toy_pairs import make_toy_pairs

    if len(args.overrides) != 1:
        raise ValueError("usage: edithf dpo toy-pairs OUT_DIR")
    print(make_toy_pairs(args.overrides[0]))
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
    if args.fields:
        return _print_fields()
    if args.config is None:
        raise ValueError("give a config YAML (edithf dpo CONFIG.yaml [key=value ...]) or `evaluate`")
    if args.config == "evaluate":
        return _evaluate(args)
    if args.config == "toy-pairs":
        return _toy_pairs(args)
    return _train(args)
