"""`edithf eval`: a scorer on a public benchmark with that benchmark's protocol, and the
measured headline placed beside the paper's published Table 5 (published rows are marked)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edithf.utils.io import atomic_write_text, json_safe

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


def ensure_imported(fmt: str, data: Path, work: Path | None) -> Path:
    """`data` may already be an imported folder; otherwise import it (once) into `work`."""
    from edithf.public import import_benchmark

    data = Path(data)
    meta = data / "dataset.json"
    if meta.is_file() and json.loads(meta.read_text()).get("source_format") == fmt:
        return data
    target = Path(work) if work else data.parent / f"{data.name}.{fmt}.imported"
    if not (target / "dataset.json").is_file():
        import_benchmark(fmt, data, target)
    return target


def predict_folder(folder: Path, scorer: str, batch_size: int = 8) -> pd.DataFrame:
    """Scores of every edit of an imported folder: the library's one prediction cache
    (`edithf.predict.cached_predictions`, kept under the folder, resumable; the key holds the
    checkpoint's file times, so a retrained checkpoint is scored again)."""
    from edithf.predict import cached_predictions

    return cached_predictions(folder, scorer, folder, batch_size=batch_size)


def evaluate_benchmark(scorer: str, fmt: str, data, *, work=None, batch_size=8, **options) -> dict:
    """Score an imported (or importable) benchmark with `scorer`; return its protocol's metrics.
    `options` (tie_margin, bad_threshold, group_ties) go to the protocols that take them; one
    given to a benchmark that does not take it is an error, not silently ignored."""
    from edithf.public import get_benchmark

    bench = get_benchmark(fmt)
    options = {k: v for k, v in options.items() if v is not None}
    unused = sorted(set(options) - set(bench.options))
    if unused:
        raise ValueError(f"{fmt} does not use {', '.join('--' + k.replace('_', '-') for k in unused)}"
                         + (f"; it takes {', '.join('--' + k.replace('_', '-') for k in bench.options)}"
                            if bench.options else ""))
    folder = ensure_imported(fmt, Path(data), work)
    metrics = bench.protocol(folder, predict_folder(folder, scorer, batch_size), **options)
    return {"model": scorer, "benchmark": fmt, "column": bench.column, "headline": metrics.get(bench.headline),
            "headline_metric": bench.headline, "definition": _definition(metrics), "metrics": metrics}


def _definition(metrics: dict) -> str | None:
    """How the headline was computed where a benchmark offers more than one definition."""
    ties = metrics.get("group_ties")
    if ties == "epsilon":
        return "K=2 human ties judged with the tuned tie threshold (EditReward's definition)"
    if ties == "drop":
        return "human-tie pairs dropped (groups with only ties not counted)"
    return None


def table5(results: list[dict]) -> pd.DataFrame:
    """Our measured rows beside the paper's published rows, in the shape of its Table 5."""
    rows = {}
    for r in results:
        rows.setdefault(f"{r['model']} (measured)", {})[r["column"]] = r["headline"]
    measured = pd.DataFrame.from_dict(rows, orient="index")
    published = PUBLISHED_TABLE5.rename(index=lambda s: f"{s} (published)")
    return pd.concat([measured, published]).reindex(columns=list(dict.fromkeys([*PUBLISHED_TABLE5.columns, *measured.columns])))


def table5_notes(results: list[dict]) -> list[str]:
    """What each measured cell is: the headline metric and, where there is a choice, its definition."""
    return [f"{r['model']} / {r['column']}: {r['headline_metric']}"
            + (f" ({r['definition']})" if r.get("definition") else "") for r in results]


def append_result(path: Path, result: dict) -> list[dict]:
    """Keep one result per (model, benchmark) in a JSON file, so several runs build one table."""
    path = Path(path)
    results = json.loads(path.read_text()) if path.is_file() else []
    results = [r for r in results if (r["model"], r["benchmark"]) != (result["model"], result["benchmark"])]
    results.append(result)
    atomic_write_text(path, json.dumps(json_safe(results), indent=2, allow_nan=False))
    return results

