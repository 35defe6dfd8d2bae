"""`edithf scorers`: the registry of scorers with their metadata."""
from __future__ import annotations

import dataclasses
import json


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the metadata as JSON")


def run(args) -> int:
    from edithf.evaluators.registry import list_evaluators

    infos = [dataclasses.asdict(info) for info in list_evaluators()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    flags = ("higher_is_better", "needs_weights", "needs_gpu", "gives_levels")
    print(f"{'name':<24} {'range':<10} " + " ".join(f"{f:<16}" for f in flags) + " description")
    for info in infos:
        name = info["name"] + (":<path>" if info["takes_argument"] else "")
        lo, hi = info["score_range"]
        cells = " ".join(f"{('yes' if info[f] else 'no'):<16}" for f in flags)
        print(f"{name:<24} {f'{lo:g}-{hi:g}':<10} {cells} {info['description']}")
    return 0
