"""`edithf:<folder or hub id>`: a trained EditHF evaluator (edithf.models.edithf_model).

Scores in the checkpoint's score range ([0, 100]); the most probable level word per dimension
comes as the extra columns `level_<dimension>`. GPU when available (bfloat16 backbone).
`edithf:tiny:qwen2_vl` / `edithf:tiny:internvl` build an *untrained* tiny model (random scores,
deterministic): for tests and wiring, never a judgement.
"""
from __future__ import annotations

import dataclasses

from edithf.evaluators.base import Evaluator
from edithf.evaluators.registry import get_info


def prepare_for_device(backbone, device):
    """bfloat16 weights on GPU (the head stays float32), float32 on CPU."""
    import torch

    if device.type == "cuda":
        backbone.to(torch.bfloat16)


class EditHFEvaluator(Evaluator):
    default_batch_size = 8

    def __init__(self, path: str, *, device: str = "auto", weights=None):
        from edithf.models.edithf_model import EditHFModel

        super().__init__(weights)
        if path.startswith("tiny:"):
            from edithf.models.edithf_config import EditHFConfig

            self.model = EditHFModel.from_config(EditHFConfig(backbone=path), device=device).eval()
        else:
            self.model = EditHFModel.from_pretrained(path, device=device).eval()
        prepare_for_device(self.model.backbone, self.model.device)
        cfg = self.model.cfg
        self.info = dataclasses.replace(get_info("edithf"), name=f"edithf:{path}",
                                        dimensions=tuple(cfg.dimensions), score_range=tuple(cfg.score_range),
                                        needs_gpu=False)

    def _score_batch(self, sources, edited, prompts):
        import torch

        with torch.no_grad():
            out = self.model(**self.model.prepare(sources, edited, prompts))
        scores = self.model.to_score_range(out.scores)
        levels = self.model.levels(out)
        result = {}
        for j, dim in enumerate(self.model.cfg.dimensions):
            result[dim] = scores[:, j].tolist()
            result[f"level_{dim}"] = [row[j] for row in levels]
        return result
