"""`edithf train CONFIG.yaml [key=value ...]`: train an EditHF evaluator.

    edithf train configs/train_tiny.yaml dataset=demo output_dir=runs/tiny
    edithf train configs/train_tiny.yaml lr=3e-4 stages=[pointwise,pairwise] --print-config
    accelerate launch -m edithf.cli train configs/train_internvl.yaml   # several GPUs

The YAML file is optional (`edithf train dataset=demo` uses the defaults for the rest).
"""
from __future__ import annotations

import json
import sys


def add_arguments(parser) -> None:
    parser.add_argument("config", nargs="?", help="YAML file of TrainConfig fields (optional)")
    parser.add_argument("overrides", nargs="*", help="key=value pairs that override the YAML, "
                        "e.g. lr=3e-4 stages=[pointwise,pairwise] epochs=2")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as YAML and exit without training")
    parser.add_argument("--list-fields", action="store_true", help="list every field with its help and exit")


def run(args) -> int:
    from edithf.config import config_to_yaml, describe_fields, load_config
    from edithf.training.train_config import TrainConfig

    if args.list_fields:
        for row in describe_fields(TrainConfig):
            choices = f" {row['choices']}" if row["choices"] else ""
            print(f"{row['name']:<20} [{row['group']}] {row['type']} = {row['default']!r}{choices}\n    {row['help']}")
        return 0
    config, overrides = args.config, list(args.overrides)
    if config and "=" in config:  # no YAML file, only overrides
        config, overrides = None, [config, *overrides]
    cfg = load_config(TrainConfig, config, overrides)
    if args.print_config:
        print(config_to_yaml(cfg), end="")
        return 0
    from edithf.evaluators.edithf_scorer import tiny_backbone_caveat
    from edithf.training.edithf_trainer import EditHFTrainer

    if tiny_backbone_caveat(cfg.backbone):
        print(f"warning: {tiny_backbone_caveat(cfg.backbone)}", file=sys.stderr)
    result = EditHFTrainer(cfg).train()
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("eval/n_")}, indent=2, default=str))
    return 0
