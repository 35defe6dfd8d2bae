"""Evaluate a scorer on public benchmarks with each benchmark's own protocol
(`edithf eval --model M --benchmark FORMAT --data SRC`).

Protocols (README "Public benchmarks" gives the details and sources):
- genai-bench: 4-way label accuracy (left / right / tie / both bad, from a tie margin and a
  "bad" threshold on the overall score), strict accuracy on the non-tie pairs, tie-calibrated
  accuracy (Deutsch et al. 2023; it tunes its threshold on the test data, so it is reported
  beside the others, never alone).
- editreward-bench (TIGER-Lab): strict pairwise accuracy without human ties, and K-way group
  accuracy per 2/3/4-pair split (a group is right only if all its non-tie pairs are).
- editscore-bench: a row is right iff score(preferred) > score(rejected) (a tie is wrong) on
  the row's dimension; macro average over the 13 task types.
- imagenhub, aurora: Spearman between the scorer's overall and the human score; aurora also a
  3-way pairwise accuracy inside each item.
- edithf-1m: the metrics of DESIGN.md section 5 (`edithf.metrics.evaluate_predictions`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.utils.io import atomic_write_text

# Paper Table 5 (zero-shot; accuracy on pairwise benchmarks, SRCC on pointwise ones).
# Published numbers, NOT measured here.
PUBLISHED_TABLE5 = pd.DataFrame(
    {
        "GenAI-Bench": [0.596, 0.657, 0.502, 0.679],
        "AURORA": [0.473, 0.636, 0.422, 0.661],
        "ImagenHub": [0.409, 0.352, 0.306, 0.453],
        "EBench-18K": [0.426, 0.372, 0.321, 0.463],
        "EditScore-Bench": [0.752, 0.713, np.nan, 0.775],
        "EditReward-Bench": [0.378, np.nan, 0.259, 0.433],
    },
    index=["GPT-5", "EditReward (MiMo)", "EditScore (Qwen3)", "EditHF (paper)"],
)

# benchmark format -> (Table 5 column, the headline metric of our result for that column)
HEADLINE = {
    "genai-bench": ("GenAI-Bench", "acc_no_ties"),
    "aurora": ("AURORA", "acc_3way"),
    "imagenhub": ("ImagenHub", "srcc"),
    "editscore-bench": ("EditScore-Bench", "macro_acc_overall"),
    "editreward-bench": ("EditReward-Bench", "group_acc_mean"),
    "edithf-1m": ("EditHF-1M test", "srcc_mean"),
}


def _score_lookup(edits: pd.DataFrame, preds: pd.DataFrame, column: str) -> pd.Series:
    return preds.set_index(edits["edit_id"].to_numpy())[column]


def protocol_genai(comparisons, scores, *, tie_margin=0.0, bad_threshold=None) -> dict:
    from edithf.metrics import pairwise_accuracy, tie_calibrated_accuracy

    a = scores.loc[comparisons.edit_a].to_numpy()
    b = scores.loc[comparisons.edit_b].to_numpy()
    diff = a - b
    # 4-way labels: both bad when both scores fall below the threshold, tie within the margin.
    predicted = np.where(diff > tie_margin, "leftvote", np.where(diff < -tie_margin, "rightvote", "tievote"))
    if bad_threshold is not None:
        predicted = np.where((a < bad_threshold) & (b < bad_threshold), "bothbad_vote", predicted)
    label = comparisons.label.to_numpy()
    tie_acc, eps = tie_calibrated_accuracy(label, diff)
    return {
        "acc_4way": float(np.mean(predicted == comparisons.vote.to_numpy())),
        # strict: human ties left out, a model tie counts as wrong
        "acc_no_ties": pairwise_accuracy(label, diff, mode="strict"),
        "acc_tie_calibrated": float(tie_acc),
        "tie_epsilon": float(eps),
        "n_pairs": int(len(comparisons)),
        "n_non_tie": int((label != 0).sum()),
    }


def protocol_editreward(comparisons, scores) -> dict:
    from edithf.metrics import group_accuracy, pairwise_accuracy

    label = comparisons.label.to_numpy()
    diff = scores.loc[comparisons.edit_a].to_numpy() - scores.loc[comparisons.edit_b].to_numpy()
    # strict: human ties left out, a model tie counts as wrong; a K-way group is right only if
    # all its counted pairs are
    out = {"acc_pairs": pairwise_accuracy(label, diff, mode="strict"), "n_pairs": int((label != 0).sum()),
           "n_human_ties_excluded": int((label == 0).sum())}
    for split, rows in comparisons.groupby("task"):
        idx = comparisons.index.get_indexer(rows.index)
        out[f"group_acc_{split}"] = group_accuracy(rows.group_id.to_numpy(), label[idx], diff[idx], mode="strict")
    # a split whose pairs are all human ties has no counted group (NaN): left out of the mean
    out["group_acc_mean"] = float(np.nanmean([v for k, v in out.items() if k.startswith("group_acc_")]))
    return out


def protocol_editscore(comparisons, preds_by_dim: dict[str, pd.Series]) -> dict:
    out = {}
    for dim, rows in comparisons.groupby("dimension"):
        s = preds_by_dim[dim]
        correct = s.loc[rows.edit_a].to_numpy() > s.loc[rows.edit_b].to_numpy()
        per_task = pd.Series(correct, index=rows.task.to_numpy()).groupby(level=0).mean()
        out[f"macro_acc_{dim}"] = float(per_task.mean())
        out[f"n_{dim}"] = int(len(rows))
    return out


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


def ensure_imported(fmt: str, data: Path, work: Path | None) -> Path:
    """`data` may already be an imported folder; otherwise import it (once) into `work`."""
    data = Path(data)
    meta = data / "dataset.json"
    if meta.is_file() and json.loads(meta.read_text()).get("source_format") == fmt:
        return data
    from edithf.data.importers import import_benchmark

    target = Path(work) if work else data.parent / f"{data.name}.{fmt}.imported"
    if not (target / "dataset.json").is_file():
        import_benchmark(fmt, data, target)
    return target


def predict_folder(folder: Path, evaluator, batch_size: int = 8) -> pd.DataFrame:
    """Scores of every edit of an imported folder, cached beside it per scorer (scored by
    `edithf.predict.predict_dataset`, so an interrupted run resumes)."""
    from edithf.predict import predict_dataset
    from edithf.utils.io import read_table

    name = evaluator.info.name if not getattr(evaluator, "source", None) else f"{evaluator.info.name}-{Path(str(evaluator.source)).name}"
    cache = folder / f"predictions-{name.replace(':', '_').replace('/', '_')}.parquet"
    if cache.is_file():
        preds = read_table(cache)
        if list(preds.edit_id) == list(read_table(folder / "edits.parquet").edit_id):
            return preds
    return predict_dataset(evaluator, folder, cache, batch_size=batch_size, progress=True)


def evaluate_benchmark(model: str, fmt: str, data, *, work=None, batch_size=8, tie_margin=0.0,
                       bad_threshold=None) -> dict:
    """Score an imported (or importable) benchmark with scorer `model`; return its protocol's metrics."""
    from edithf.evaluators.registry import create_evaluator
    from edithf.utils.io import read_table

    if fmt not in HEADLINE:
        raise ValueError(f"unknown benchmark {fmt!r}; choose from {', '.join(HEADLINE)}")
    folder = ensure_imported(fmt, Path(data), work)
    evaluator = create_evaluator(model)
    preds = predict_folder(folder, evaluator, batch_size)
    edits = read_table(folder / "edits.parquet")
    overall = preds.set_index("edit_id")["overall"]
    if fmt == "genai-bench":
        metrics = protocol_genai(read_table(folder / "comparisons.parquet"), overall,
                                 tie_margin=tie_margin, bad_threshold=bad_threshold)
    elif fmt == "editreward-bench":
        metrics = protocol_editreward(read_table(folder / "comparisons.parquet"), overall)
    elif fmt == "editscore-bench":
        by_dim = {d: preds.set_index("edit_id")[d] for d in ("alignment", "preservation", "overall")}
        metrics = protocol_editscore(read_table(folder / "comparisons.parquet"), by_dim)
    elif fmt in ("imagenhub", "aurora"):
        metrics = protocol_pointwise(edits, read_table(folder / "human.parquet"), overall,
                                     pairwise=fmt == "aurora", tie_margin=tie_margin)
    else:  # edithf-1m
        from edithf.metrics import evaluate_predictions

        metrics = evaluate_predictions(edits, preds, split="test")
        metrics["srcc_mean"] = float(np.nanmean([metrics[f"srcc_{d}"] for d in ("quality", "alignment", "preservation")]))
    column, key = HEADLINE[fmt]
    return {"model": model, "benchmark": fmt, "column": column, "headline": metrics.get(key), "headline_metric": key,
            "metrics": metrics}


def table5(results: list[dict]) -> pd.DataFrame:
    """Our measured rows beside the paper's published rows, in the shape of its Table 5."""
    rows = {}
    for r in results:
        rows.setdefault(f"{r['model']} (measured)", {})[r["column"]] = r["headline"]
    measured = pd.DataFrame.from_dict(rows, orient="index")
    published = PUBLISHED_TABLE5.rename(index=lambda s: f"{s} (published)")
    return pd.concat([measured, published]).reindex(columns=list(dict.fromkeys([*PUBLISHED_TABLE5.columns, *measured.columns])))


def append_result(path: Path, result: dict) -> list[dict]:
    """Keep one result per (model, benchmark) in a JSON file, so several runs build one table."""
    path = Path(path)
    results = json.loads(path.read_text()) if path.is_file() else []
    results = [r for r in results if (r["model"], r["benchmark"]) != (result["model"], result["benchmark"])]
    results.append(result)
    atomic_write_text(path, json.dumps(results, indent=2, default=float))
    return results
