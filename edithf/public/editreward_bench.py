"""EditReward-Bench of TIGER-Lab: `{2pair,3pair,4pair}/train-*.parquet`, one row compares
`candidate_1` with `candidate_2` of the group `id.split('_')[0]`; `ranking` uses the letters of
the group's candidates ("A>B", "B>A", "A=B", "A=B=Good" in 2pair; "A>C", "C>B", "D>A" in 3pair
and 4pair, with `comparison_type` "AvsC" naming which letters the two candidates are).

Duplicate ids with conflicting rankings (a known defect of the 2pair split) are dropped and
reported; exact duplicates are kept once.

Protocol: strict pairwise accuracy without human ties, and K-way group accuracy per split (a
group is right only if all its pairs are). Human-tie pairs (2pair only) are judged one of two
ways, named in the result (`group_ties`):
- "epsilon" (default; EditReward's own evaluation, so comparable with their published
  numbers): the split's tie threshold ε is tuned as in tie-calibrated accuracy; a human-tie
  pair is right iff |score difference| <= ε, any other pair iff its sign is right;
- "drop" (the stricter reading used before): human-tie pairs are left out, and a group with
  no other pair is not counted.
`group_acc_overall` (the headline) is the share of right groups over all splits, as EditReward
reports it; `group_acc_mean` averages the splits.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, dedupe_edits, edit_row,
    read_any_table, require_columns, table_files,
)
from edithf.utils.io import read_table

GROUP_TIES = ("epsilon", "drop")
_RANK_RE = re.compile(r"^\s*([A-Z])\s*([<>=])\s*([A-Z])\s*(?:=\s*(?:good|bad))?\s*$", re.IGNORECASE)
_TYPE_RE = re.compile(r"^\s*([A-Z])\s*vs\s*([A-Z])\s*$", re.IGNORECASE)


def ranking_label(text, comparison_type, file, row) -> int:
    """+1 when candidate_1 won, -1 when candidate_2 did, 0 for a tie. The candidates' letters
    come from `comparison_type` ("AvsC"); without it candidate_1 is the earlier letter."""
    m = _RANK_RE.match(str(text))
    if not m or m.group(1).upper() == m.group(3).upper():
        raise ImportFormatError(file, f"ranking {text!r} is not of the form A>B, C>A, A=B (letters of the "
                                "group's candidates)", row, "ranking")
    left, op, right = m.group(1).upper(), m.group(2), m.group(3).upper()
    t = _TYPE_RE.match(str(comparison_type or ""))
    first, second = (t.group(1).upper(), t.group(2).upper()) if t else tuple(sorted((left, right)))
    if {left, right} != {first, second}:
        raise ImportFormatError(file, f"ranking {text!r} does not compare the row's candidates {first} and "
                                f"{second} (comparison_type {comparison_type!r})", row, "ranking")
    if op == "=":
        return 0
    winner = left if op == ">" else right
    return 1 if winner == first else -1


def import_editreward_bench(src: Path, out: Path) -> Imported:
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    by_id: dict[tuple[str, str], dict] = {}
    conflicts: list[str] = []
    for file in table_files(src, ("**/*pair*/**/*.parquet", "**/*pair*.parquet", "**/*.parquet")):
        df = read_any_table(file)
        require_columns(df, ("id", "instruction", "ranking", "source_image", "candidate_1", "candidate_2",
                             "model_1", "model_2"), file)
        k = re.search(r"([234])pair", str(file))
        split = f"{k.group(1)}pair" if k else file.parent.name
        for i, r in enumerate(df.itertuples(index=False)):
            label = ranking_label(r.ranking, getattr(r, "comparison_type", None), file, i)
            key = (split, str(r.id))
            if key in by_id:
                if by_id[key]["label"] != label:
                    conflicts.append(f"{split}:{r.id}")
                    by_id[key]["conflict"] = True
                continue
            group = f"{split}-{str(r.id).split('_')[0]}"
            prompt = clean_prompt(r.instruction, file, i, "instruction")
            source = write(r.source_image, file=file, row=i, column="source_image")
            ids = []
            for j in (1, 2):
                edited = write(getattr(r, f"candidate_{j}"), file=file, row=i, column=f"candidate_{j}")
                ids.append(f"{group}-{Path(edited).stem[:10]}")
                result.edits.append(edit_row(ids[-1], group, str(getattr(r, "dataset", "") or "editreward"), prompt,
                                             source, str(getattr(r, f"model_{j}")), edited, bench_split=split))
            by_id[key] = dict(comparison_id=f"{split}:{r.id}", group_id=group, edit_a=ids[0], edit_b=ids[1],
                              label=label, dimension="overall", task=split, vote=str(r.ranking))
    result.comparisons = [c for c in by_id.values() if not c.pop("conflict", False)]
    result.edits = dedupe_edits(result.edits)
    result.report["conflicting_ids_dropped"] = sorted(set(conflicts))
    result.report["comparisons"] = len(result.comparisons)
    return result


def _pairs_right_epsilon(label: np.ndarray, diff: np.ndarray) -> tuple[np.ndarray, float]:
    """EditReward's judgement of each pair: ε from tie-calibrated accuracy when the split has
    human ties (0 otherwise); a human tie is right iff |d| <= ε, another pair iff its sign is."""
    from edithf.metrics import tie_calibrated_accuracy

    eps = tie_calibrated_accuracy(label, diff)[1] if (label == 0).any() else 0.0
    right = np.where(label == 0, np.abs(diff) <= eps, np.sign(diff) == label)
    return right, float(eps)


def _group_results(groups: np.ndarray, label: np.ndarray, diff: np.ndarray, group_ties: str):
    """(right, counted) per group of one split, and the ε used."""
    if group_ties == "epsilon":
        right, eps = _pairs_right_epsilon(label, diff)
        counted = np.ones(len(label), bool)
    else:
        from edithf.metrics import pair_outcomes

        right, counted = pair_outcomes(label, diff, "strict")
        eps = None
    frame = pd.DataFrame({"g": groups, "wrong": counted & ~right, "counted": counted})
    per_group = frame.groupby("g", sort=False)[["wrong", "counted"]].sum()
    per_group = per_group[per_group["counted"] > 0]
    return (per_group["wrong"] == 0).to_numpy(), eps


def group_accuracies(comparisons: pd.DataFrame, diff: np.ndarray, group_ties: str) -> dict:
    out, right_all = {}, []
    label = comparisons.label.to_numpy()
    for split, rows in comparisons.groupby("task"):
        idx = comparisons.index.get_indexer(rows.index)
        right, eps = _group_results(rows.group_id.to_numpy(), label[idx], diff[idx], group_ties)
        # a split whose pairs are all dropped human ties has no counted group: NaN, left out of the mean
        out[f"group_acc_{split}"] = float(right.mean()) if len(right) else float("nan")
        if eps is not None:
            out[f"tie_epsilon_{split}"] = eps
        right_all.append(right)
    per_split = [v for k, v in out.items() if k.startswith("group_acc_")]
    everything = np.concatenate(right_all) if right_all else np.array([])
    out["group_acc_mean"] = float(np.nanmean(per_split)) if not np.isnan(per_split).all() else float("nan")
    out["group_acc_overall"] = float(everything.mean()) if len(everything) else float("nan")
    out["n_groups"] = int(len(everything))
    return out


def protocol_editreward(comparisons, scores, *, group_ties: str = "epsilon") -> dict:
    from edithf.metrics import pairwise_accuracy

    if group_ties not in GROUP_TIES:
        raise ValueError(f"group_ties must be one of {GROUP_TIES}, got {group_ties!r}")
    comparisons = comparisons.reset_index(drop=True)
    label = comparisons.label.to_numpy()
    diff = scores.loc[comparisons.edit_a].to_numpy() - scores.loc[comparisons.edit_b].to_numpy()
    out = {"acc_pairs": pairwise_accuracy(label, diff, mode="strict"), "n_pairs": int((label != 0).sum()),
           "n_human_tie_pairs": int((label == 0).sum()), "group_ties": group_ties}
    out.update(group_accuracies(comparisons, diff, group_ties))
    other = GROUP_TIES[1 - GROUP_TIES.index(group_ties)]
    out[f"group_acc_overall_{other}"] = group_accuracies(comparisons, diff, other)["group_acc_overall"]
    return out


def evaluate(folder: Path, preds: pd.DataFrame, *, group_ties: str = "epsilon") -> dict:
    return protocol_editreward(read_table(folder / "comparisons.parquet"), preds.set_index("edit_id")["overall"],
                               group_ties=group_ties)


BENCHMARK = Benchmark(
    name="editreward-bench", column="EditReward-Bench", headline="group_acc_overall",
    importer=import_editreward_bench, protocol=evaluate, options=("group_ties",),
    summary="EditReward-Bench (TIGER-Lab): 2/3/4-candidate groups; K-way group accuracy",
)
