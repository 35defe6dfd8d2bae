"""EditHF: score text-guided image edits the way trained annotators would.

`import edithf` is cheap: nothing heavy (torch, transformers, gradio) is imported until a
name that needs it is used. The public names below resolve lazily (PEP 562).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> "module:attribute"
_LAZY = {
    "DIMENSIONS": "edithf.data.schema:DIMENSIONS",
    "DEFAULT_WEIGHTS": "edithf.data.schema:DEFAULT_WEIGHTS",
    "EditDataset": "edithf.data.dataset:EditDataset",
    "load_dataset": "edithf.data.dataset:load_dataset",
    "load_image": "edithf.data.images:load_image",
    "build_demo": "edithf.demo:build_demo",
    "ensure_demo": "edithf.demo:ensure_demo",
    "create_evaluator": "edithf.evaluators.registry:create_evaluator",
    "list_evaluators": "edithf.evaluators.registry:list_evaluators",
    "Evaluator": "edithf.evaluators.base:Evaluator",
    "EditReward": "edithf.reward.reward:EditReward",
    "best_of_n": "edithf.reward.selection:best_of_n",
    "build_leaderboard": "edithf.leaderboard:build_leaderboard",
    "evaluate_predictions": "edithf.metrics:evaluate_predictions",
    "predict_dataset": "edithf.predict:predict_dataset",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'edithf' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__():
    return sorted(__all__)
