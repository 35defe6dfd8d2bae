"""The registry of scorers: `create_evaluator(name)` and `list_evaluators()`.

Each entry is a table row (pyiqa-style): its metadata, and where its class lives as an import
string, imported only when the scorer is built (lm-eval-harness-style lazy registry), so
listing scorers or building the studio never imports torch.

Names: `dummy`, `classic`, `edithf:<folder or hub id>`, `edithf-official:<folder or hub id>`,
`judge:<hub id>`. A prefix entry takes what follows the colon as its first argument.
"""
from __future__ import annotations

import importlib

from edithf.evaluators.base import Evaluator, EvaluatorInfo

_REGISTRY: dict[str, tuple[EvaluatorInfo, str]] = {}


def register(info: EvaluatorInfo, target: str) -> None:
    """Add a scorer: `target` is "module:Class"; the class takes (arg, **kwargs) when
    `info.takes_argument`, else (**kwargs)."""
    _REGISTRY[info.name] = (info, target)


register(
    EvaluatorInfo(
        name="dummy",
        description="Deterministic scorer from simple image statistics; for tests and demos, not a judgement.",
    ),
    "edithf.evaluators.dummy:DummyEvaluator",
)
register(
    EvaluatorInfo(
        name="classic",
        description="Classic IQA baselines (full-reference metrics between source and edit, "
        "no-reference statistics) mapped to the three dimensions; no weights needed.",
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
    ),
    "edithf.evaluators.judge:JudgeEvaluator",
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
    return [f"{k}:<path>" if info.takes_argument else k for k, (info, _) in _REGISTRY.items()]


def list_evaluators() -> list[EvaluatorInfo]:
    return [info for info, _ in _REGISTRY.values()]


def create_evaluator(name: str, **kwargs) -> Evaluator:
    """Build a scorer by name, e.g. `create_evaluator("classic")`,
    `create_evaluator("edithf:runs/my-run/best")`."""
    key, arg = split_name(name)
    info = get_info(key)
    if info.takes_argument and not arg:
        raise ValueError(f"scorer {key!r} needs a folder or hub id: use '{key}:<path or hub id>'")
    if not info.takes_argument and arg:
        raise ValueError(f"scorer {key!r} takes no argument; use just {key!r}")
    module, cls_name = _REGISTRY[key][1].split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    return cls(arg, **kwargs) if info.takes_argument else cls(**kwargs)


# One classic metric per scorer: its normalised value (higher is better, [0, 100]) on all
# three dimensions, the raw value as an extra column named after the metric.
_CLASSIC_METRICS = {
    "psnr": ("PSNR between source and edit (torchmetrics; capped at 100 dB); score = 100*clip(dB/50, 0, 1).",
             "PSNREvaluator", True),
    "ssim": ("SSIM between source and edit (torchmetrics, Gaussian 11x11); score = 100*clip(SSIM, 0, 1).",
             "SSIMEvaluator", True),
    "ms_ssim": ("MS-SSIM between source and edit (torchmetrics, 5 scales); score = 100*clip(MS-SSIM, 0, 1).",
                "MSSSIMEvaluator", True),
    "vif": ("VIF-P between source and edit (torchmetrics' pixel VIF, RGB, sigma_n^2=2); "
            "score = 100*clip(VIF, 0, 1).", "VIFEvaluator", True),
    "gmsd": ("GMSD between source and edit (Xue et al. 2014; raw: lower is better, 0 = identical); "
             "score = 100*(1 - clip(GMSD/0.5, 0, 1)), so the score is higher-is-better.", "GMSDEvaluator", False),
    "nr_stats": ("No-reference statistics of the edit (sharpness, contrast, entropy, colourfulness, "
                 "noise) combined into [0, 100]; ignores the source and the prompt.", "NRStatsEvaluator", True),
}
for _name, (_description, _cls, _raw_higher) in _CLASSIC_METRICS.items():
    register(
        EvaluatorInfo(
            name=_name,
            description=_description,
            extra={"family": "classic", "raw_column": "nr_quality" if _name == "nr_stats" else _name,
                   "raw_higher_is_better": _raw_higher, "same_score_on_all_dimensions": True},
        ),
        f"edithf.evaluators.classic:{_cls}",
    )
