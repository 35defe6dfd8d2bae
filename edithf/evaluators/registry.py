"""The registry of scorers: `create_evaluator(name)` and `list_evaluators()`.

Each entry is a table row (pyiqa-style): its metadata, and where its class lives as an import
string, imported only when the scorer is built (lm-eval-harness-style lazy registry), so
listing scorers or building the studio never imports torch.

Names: `dummy`, `classic`, `edithf:<folder or hub id>`, `edithf-official:<folder or hub id>`,
`judge:<hub id>`, and one per classic metric (`psnr`, `ssim`, ...: registered from the metric
table `edithf.evaluators.classic.CLASSIC_METRICS`, numpy only, no torch). A prefix entry takes
what follows the colon as its first argument. Every entry says which dimensions it judges,
whether it reads the prompt and what its numbers mean (`EvaluatorInfo`).
"""
from __future__ import annotations

import importlib

from edithf.evaluators.base import Evaluator, EvaluatorInfo

_REGISTRY: dict[str, tuple[EvaluatorInfo, str, dict]] = {}


def register(info: EvaluatorInfo, target: str, **fixed) -> None:
    """Add a scorer: `target` is "module:Class"; the class takes (arg, **fixed, **kwargs) when
    `info.takes_argument`, else (**fixed, **kwargs)."""
    _REGISTRY[info.name] = (info, target, fixed)


PREFERENCE_MEANING = ("per dimension a predicted MOS in [0, 100], higher is better; overall = the "
                      "weighted mean (0.3/0.4/0.3 by default)")

register(
    EvaluatorInfo(
        name="dummy",
        description="Deterministic scorer from simple image statistics; for tests and demos, not a judgement.",
        meaning="image statistics on 64x64 thumbnails in [0, 100] (alignment = a bump over the share of changed "
        "pixels); plumbing numbers, not a judgement; ignores the prompt",
    ),
    "edithf.evaluators.dummy:DummyEvaluator",
)
register(
    EvaluatorInfo(
        name="classic",
        description="Classic IQA baselines: full-reference metrics between source and edit (preservation), "
        "no-reference statistics of the edit (quality); no weights needed. Cannot judge alignment (NaN).",
        dimensions=("quality", "preservation"),
        meaning="quality = no-reference statistics, preservation = mean normalised PSNR/SSIM/MS-SSIM/VIF/GMSD, "
        "both in [0, 100], higher is better; alignment NaN; overall = weighted mean of quality and preservation",
    ),
    "edithf.evaluators.classic:ClassicEvaluator",
)
register(
    EvaluatorInfo(
        name="edithf",
        description="A trained EditHF evaluator (MLLM + LoRA + score head), from a folder or hub id.",
        needs_weights=True,
        gives_levels=True,
        takes_argument=True,
        reads_prompt=True,
        meaning=PREFERENCE_MEANING,
    ),
    "edithf.evaluators.edithf_scorer:EditHFEvaluator",
)
register(
    EvaluatorInfo(
        name="edithf-official",
        description="The published EditHF checkpoints (IntMeGroup/EditHF layout: one folder per "
        "dimension with vision_lora/, llm_lora/, mlp_head.pth on InternVL3.5).",
        needs_weights=True,
        needs_gpu=True,
        takes_argument=True,
        reads_prompt=True,
        meaning=PREFERENCE_MEANING,
    ),
    "edithf.evaluators.official_scorer:OfficialEditHFEvaluator",
)
register(
    EvaluatorInfo(
        name="judge",
        description="Zero-shot VLM judge: expected score from level-word probabilities of any "
        "instruct VLM, per dimension, no training.",
        needs_weights=True,
        gives_levels=True,
        takes_argument=True,
        reads_prompt=True,
        meaning="per dimension the expected score of the level words (bad ... excellent) in [0, 100], higher is "
        "better; zero-shot, not calibrated to human MOS; overall = the weighted mean",
    ),
    "edithf.evaluators.judge:JudgeEvaluator",
)


def _register_classic_metrics() -> None:
    """One scorer per classic metric, from the metric table (`edithf.evaluators.classic`)."""
    from edithf.evaluators.classic import CLASSIC_METRICS

    for m in CLASSIC_METRICS.values():
        register(
            EvaluatorInfo(
                name=m.name,
                description=f"{m.description}; score = {m.score_formula}.",
                dimensions=(m.dimension,),
                meaning=f"{m.dimension} only: {m.score_formula} in [0, 100], higher is better; the other "
                "dimensions NaN; overall = this score",
                extra={"family": "classic", "raw_column": m.raw_column, "raw_higher_is_better": m.raw_higher_is_better},
            ),
            "edithf.evaluators.classic:ClassicEvaluator",
            metric=m.name,
        )


def split_name(name: str) -> tuple[str, str | None]:
    """'edithf:runs/x' -> ('edithf', 'runs/x'); 'classic' -> ('classic', None)."""
    key, sep, arg = name.partition(":")
    return key.strip(), (arg.strip() if sep else None)


def get_info(name: str) -> EvaluatorInfo:
    key, _ = split_name(name)
    if key not in _REGISTRY:
        raise KeyError(f"unknown scorer {name!r}; known: {', '.join(available())}")
    return _REGISTRY[key][0]


def available() -> list[str]:
    return [f"{k}:<path>" if info.takes_argument else k for k, (info, _, _) in _REGISTRY.items()]


def list_evaluators() -> list[EvaluatorInfo]:
    return [info for info, _, _ in _REGISTRY.values()]


def create_evaluator(name: str, **kwargs) -> Evaluator:
    """Build a scorer by name, e.g. `create_evaluator("classic")`,
    `create_evaluator("edithf:runs/my-run/best")`."""
    key, arg = split_name(name)
    info = get_info(key)
    if info.takes_argument and not arg:
        raise ValueError(f"scorer {key!r} needs a folder or hub id: use '{key}:<path or hub id>'")
    if not info.takes_argument and arg:
        raise ValueError(f"scorer {key!r} takes no argument; use just {key!r}")
    _, target, fixed = _REGISTRY[key]
    module, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    return cls(arg, **fixed, **kwargs) if info.takes_argument else cls(**fixed, **kwargs)


_register_classic_metrics()
