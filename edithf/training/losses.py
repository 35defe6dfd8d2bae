"""The three losses of the paper's section 4.2.

- textual: cross-entropy on the level word (bad ... excellent) of each dimension;
- pointwise: mean squared error between predicted scores and MOS / 100;
- pairwise: a ranking loss on pairs of the same group, Bradley-Terry `-log sigmoid(s_w - s_l)`
  (scaled, since scores live in [0, 1]) or a hinge with a margin.

Missing labels (an edit without MOS on one dimension) are masked, never filled in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_LEVEL = -100  # level target of a dimension without MOS (cross_entropy's ignore_index)


def textual_loss(level_logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """level_logits (B, D, L), levels (B, D) long in [0, L) or IGNORE_LEVEL -> scalar."""
    if not (levels != IGNORE_LEVEL).any():
        raise ValueError("textual loss: no edit in this batch has a level on any dimension")
    return F.cross_entropy(level_logits.flatten(0, 1).float(), levels.flatten(), ignore_index=IGNORE_LEVEL)


def pointwise_loss(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """scores (B, D) in [0, 1], targets (B, D) MOS / 100 with NaN where missing -> scalar MSE."""
    mask = ~torch.isnan(targets)
    if not mask.any():
        raise ValueError("pointwise loss: no edit in this batch has a MOS on any dimension")
    return F.mse_loss(scores.float()[mask], targets[mask].to(scores.device, torch.float32))


def pairwise_loss(s_w: torch.Tensor, s_l: torch.Tensor, kind: str = "bt", scale: float = 10.0,
                  margin: float = 0.05) -> torch.Tensor:
    """s_w, s_l (P,) scores of the preferred and the rejected edit of each pair -> scalar.

    bt: mean of -log sigmoid(scale * (s_w - s_l)); logsigmoid keeps it finite for any gap.
    margin: mean of max(0, margin - (s_w - s_l)).
    """
    diff = (s_w - s_l).float()
    if kind == "bt":
        return -F.logsigmoid(scale * diff).mean()
    if kind == "margin":
        return F.relu(margin - diff).mean()
    raise ValueError(f"unknown pairwise loss {kind!r}: use 'bt' or 'margin'")
