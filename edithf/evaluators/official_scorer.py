"""`edithf-official:<folder or hub id>`: the published EditHF checkpoints (edithf.models.official).

Scores are |MLP(h)| * 100 as the published code computes them (not clipped). GPU when
available (bfloat16 backbone, float32 heads).
"""
from __future__ import annotations

import dataclasses

from edithf.evaluators.base import Evaluator
from edithf.evaluators.edithf_scorer import prepare_for_device
from edithf.evaluators.registry import get_info
from edithf.models.official import DEFAULT_BACKBONE


class OfficialEditHFEvaluator(Evaluator):
    default_batch_size = 4

    def __init__(self, path: str, *, backbone: str = DEFAULT_BACKBONE, image_size: int = 448,
                 device: str = "auto", weights=None):
        from edithf.models.official import OfficialEditHF

        super().__init__(weights)
        self.model = OfficialEditHF(path, backbone=backbone, image_size=image_size, device=device)
        prepare_for_device(self.model.base, next(self.model.heads.parameters()).device)
        self.info = dataclasses.replace(get_info("edithf-official"), name=f"edithf-official:{path}",
                                        dimensions=tuple(self.model.dimensions))

    def _score_batch(self, sources, edited, prompts):
        scores = self.model.score(sources, edited, prompts)
        return {dim: scores[:, j].tolist() for j, dim in enumerate(self.model.dimensions)}
