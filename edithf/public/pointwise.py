"""The protocol of the pointwise benchmarks (ImagenHub, AURORA): Spearman between the scorer's
overall and the human score, and optionally a 3-way pairwise accuracy inside each item."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edithf.utils.io import read_table


def protocol_pointwise(edits, human, scores, *, pairwise=False, tie_margin=0.0) -> dict:
    from edithf.metrics import srcc

    h = human.set_index("edit_id").human_score.loc[edits.edit_id].to_numpy()
    s = scores.loc[edits.edit_id].to_numpy()
    out = {"srcc": float(srcc(s, h)), "n": int(len(h))}
    if pairwise:
        # Every pair of outputs of the same item: human label from the score order (equal = tie),
        # model label from the score difference with a tie margin; 3-way accuracy.
        g = edits.group_id.to_numpy()
        i, j = np.triu_indices(len(g), k=1)
        same = g[i] == g[j]
        i, j = i[same], j[same]
        hl = np.sign(h[i] - h[j])
        d = s[i] - s[j]
        ml = np.where(np.abs(d) <= tie_margin, 0, np.sign(d))
        out["acc_3way"] = float(np.mean(hl == ml)) if len(i) else float("nan")
        out["n_pairs"] = int(len(i))
    return out


def evaluate_folder(folder: Path, preds: pd.DataFrame, *, pairwise: bool, tie_margin: float = 0.0) -> dict:
    return protocol_pointwise(read_table(folder / "edits.parquet"), read_table(folder / "human.parquet"),
                              preds.set_index("edit_id")["overall"], pairwise=pairwise, tie_margin=tie_margin)
