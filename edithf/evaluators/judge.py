"""`judge:<hub id | folder | tiny:...>`: a zero-shot VLM judge, no training, no text parsing.

Per dimension, the VLM sees a rubric prompt, [source image] and [edited image]; its answer is
teacher-forced up to "The <aspect> of the edited image is", and the probabilities of the five
level words at the next token (restricted softmax over their first tokens) give
- the expected score: sum_k p_k * value_k * 100, value_k the centre of level k's bin
  (bad 10, poor 30, fair 50, good 70, excellent 90), the Q-Align recipe;
- the level: the most probable word (column `level_<dimension>`).
One forward pass per dimension (each has its own prompt). GPU when available, bfloat16.
"""
from __future__ import annotations

import dataclasses

from edithf.data.schema import DIMENSIONS, LEVELS
from edithf.evaluators.base import Evaluator
from edithf.evaluators.registry import get_info

ASPECTS = {"quality": "visual quality", "alignment": "instruction alignment",
           "preservation": "preservation of the source"}
RUBRICS = {
    "quality": "Judge only the visual quality of the edited image: sharpness, artefacts, distortions, noise.",
    "alignment": "Judge only how well the edited image follows the instruction: does it do what was asked?",
    "preservation": "Judge only whether the edited image keeps everything the instruction did not ask to change.",
}
USER = ("The source image was edited with the instruction: \"{instruction}\".\n{rubric}\n"
        "Answer with one word: bad, poor, fair, good or excellent.")


def answer_prefix(dimension: str) -> str:
    return f"The {ASPECTS[dimension]} of the edited image is"


class JudgeEvaluator(Evaluator):
    default_batch_size = 4

    def __init__(self, hub_id: str, *, device: str = "auto", dtype: str = "auto", weights=None):
        import torch

        from edithf.models import backbones, families
        from edithf.models.edithf_config import EditHFConfig

        super().__init__(weights)
        self.cfg = EditHFConfig(backbone=hub_id, dtype=dtype)
        model, self.processor, family = backbones.load_backbone(self.cfg)
        self.adapter = families.adapter_for(family)
        self.device = backbones.pick_device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cuda":
            self.model.to(torch.bfloat16)
        self.level_ids = backbones.level_token_ids(self.processor.tokenizer, LEVELS)
        self.level_values = torch.tensor([(k + 0.5) / len(LEVELS) for k in range(len(LEVELS))])
        self.info = dataclasses.replace(get_info("judge"), name=f"judge:{hub_id}")

    def level_probabilities(self, sources, edited, prompts, dimension: str):
        """(B, 5) probabilities of the level words after the dimension's answer prefix."""
        import torch

        from edithf.models import backbones

        users = [USER.format(instruction=backbones.truncate_tokens(
            self.processor.tokenizer, p, self.cfg.max_instruction_tokens), rubric=RUBRICS[dimension])
            for p in prompts]
        batch = backbones.encode_with_answer(self.processor, self.adapter, self.cfg, sources, edited, users,
                                             [answer_prefix(dimension)])
        batch = backbones.to_model(batch, self.model)
        with torch.no_grad():
            hidden = backbones.hidden_at(self.model, batch.pop("read_index"), **batch)[:, 0]  # (B, H)
            return backbones.logits_for_tokens(self.model, hidden, self.level_ids).softmax(-1).cpu()

    def _score_batch(self, sources, edited, prompts):
        out = {}
        for dim in DIMENSIONS:
            probs = self.level_probabilities(sources, edited, prompts, dim)  # (B, 5)
            out[dim] = (probs @ self.level_values * 100).tolist()
            out[f"level_{dim}"] = [LEVELS[k] for k in probs.argmax(-1).tolist()]
        return out
