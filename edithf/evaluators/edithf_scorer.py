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


def tiny_backbone_caveat(backbone: str) -> str | None:
    """The warning for a `tiny:` backbone (random weights built in memory), None otherwise."""
    from edithf.models.families import parse_tiny

    tiny = parse_tiny(backbone)
    if tiny is None:
        return None
    fixture = ("its hand-set comparison layer is what lets it learn alignment and preservation"
               if tiny == ("qwen2_vl", "demo") else "random weights")
    return (f"tiny fixture backbone {backbone} ({fixture}; docs/evaluator.md \"Tiny backbones\"): "
            "a test fixture, not a real MLLM, so its scores say nothing about real edits")


class EditHFEvaluator(Evaluator):
    default_batch_size = 8

    def __init__(self, path: str, *, device: str = "auto", weights=None):
        from edithf.models.edithf_model import EditHFModel

        from edithf.models.families import parse_tiny

        super().__init__(weights)
        if parse_tiny(path):
            from edithf.models.edithf_config import EditHFConfig

            self.model = EditHFModel.from_config(EditHFConfig(backbone=path), device=device).eval()
        else:
            self.model = EditHFModel.from_pretrained(path, device=device).eval()
        prepare_for_device(self.model.backbone, self.model.device)
        cfg = self.model.cfg
        self.info = dataclasses.replace(get_info("edithf"), name=f"edithf:{path}",
                                        dimensions=tuple(cfg.dimensions), score_range=tuple(cfg.score_range),
                                        needs_gpu=False)
        caveat = tiny_backbone_caveat(cfg.backbone)
        if caveat:  # shown wherever this scorer's results are (studio scorer cards, `edithf scorers`)
            self.info = dataclasses.replace(self.info, extra={**self.info.extra, "caveats": [caveat]})

    def caveats(self) -> list[str]:
        """What a reader of this scorer's numbers must know (e.g. a tiny fixture backbone)."""
        return list(self.info.extra.get("caveats", []))

    def _score_batch(self, sources, edited, prompts):
        import torch

        with torch.no_grad():
            return self._columns(self.model(**self.model.prepare(sources, edited, prompts)))

    def _score_group(self, source, edited, prompt, batch_size):
        """The instruction and the source image once (a shared key/value prefix), then the edits."""
        from edithf.models.families import PrefixSplitError

        try:
            outs = [self._columns(out) for out in self.model.group_outputs(source, edited, prompt, batch_size)]
        except PrefixSplitError:  # a tokenizer that cannot cut the prompt: the rows one by one
            return super()._score_group(source, edited, prompt, batch_size)
        return {k: [v for out in outs for v in out[k]] for k in outs[0]}

    def _columns(self, out) -> dict[str, list]:
        scores = self.model.to_score_range(out.scores)
        levels = self.model.levels(out)
        result = {}
        for j, dim in enumerate(self.model.cfg.dimensions):
            result[dim] = scores[:, j].tolist()
            result[f"level_{dim}"] = [row[j] for row in levels]
        return result
