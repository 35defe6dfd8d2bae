"""GenAI-Bench, image editing (TIGER-Lab): one row = a source, an instruction and a left/right
battle voted leftvote / rightvote / tievote / bothbad_vote.

Layouts read: the dataset's parquet (`image_edition/test_v1-*.parquet`, images embedded), and
the benchmark repository's own result files `results/image_edition/<judge>/pairwise.jsonl`
(`idx, source_prompt, target_prompt, instruct_prompt, human_vote, ...`). The result files carry
no images: their `idx` is the row of the parquet, which must be under SRC too.

Protocol: 4-way label accuracy (a tie margin and a "both bad" threshold on the overall score),
strict accuracy on the non-tie pairs (the headline), and tie-calibrated accuracy (Deutsch et
al. 2023; it tunes its threshold on the test data, so it is reported beside the others).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edithf.public.base import (
    Benchmark, ImageWriter, ImportFormatError, Imported, clean_prompt, edit_row, read_any_table,
    require_columns, vote_counts,
)
from edithf.utils.io import read_table

VOTES = {"leftvote": 1, "rightvote": -1, "tievote": 0, "bothbad_vote": 0}
PARQUET_COLUMNS = ("instruct_prompt", "source_image", "left_model", "left_output_image",
                   "right_model", "right_output_image", "vote_type")


def _check_vote(vote, file, row, column) -> str:
    vote = str(vote)
    if vote not in VOTES:
        raise ImportFormatError(file, f"{column} {vote!r} not one of {sorted(VOTES)}", row, column)
    return vote


def _parquet_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src] if src.suffix != ".jsonl" else []
    return sorted({*src.glob("**/*image_edition*.parquet"), *src.glob("**/*.parquet")})


def _result_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src] if src.name.endswith(".jsonl") else []
    return sorted(src.glob("**/pairwise.jsonl"))


def import_genai_bench(src: Path, out: Path) -> Imported:
    parquets = _parquet_files(src)
    if not parquets:
        raise ImportFormatError(src, "no GenAI-Bench parquet found (image_edition/test_v1-*.parquet); "
                                "result files (pairwise.jsonl) carry no images and need it beside them")
    votes = _human_votes(_result_files(src)) if not src.is_file() else None
    result = Imported()
    write = ImageWriter(out, src if src.is_dir() else src.parent)
    for file in parquets:
        df = read_any_table(file)
        require_columns(df, PARQUET_COLUMNS, file)
        for i, r in enumerate(df.itertuples(index=False)):
            vote = _check_vote(r.vote_type, file, i, "vote_type")
            if votes is not None and i in votes and votes[i][1] != vote:
                raise ImportFormatError(votes[i][0], f"human_vote of idx {i} is {votes[i][1]!r}, the parquet "
                                        f"{file.name} says {vote!r}: the result file is of another test set")
            _add_battle(result, write, r, file, i, vote)
    result.report["votes"] = vote_counts(result.comparisons)
    if votes is not None:
        result.report["result_files_checked"] = len(_result_files(src))
    return result


def _add_battle(result: Imported, write: ImageWriter, r, file: Path, i: int, vote: str) -> None:
    prompt = clean_prompt(r.instruct_prompt, file, i, "instruct_prompt")
    source = write(r.source_image, file=file, row=i, column="source_image")
    gid = f"genai-{file.stem}-{i}"
    ids = []
    for side in ("left", "right"):
        edited = write(getattr(r, f"{side}_output_image"), file=file, row=i, column=f"{side}_output_image")
        ids.append(f"{gid}-{side}")
        result.edits.append(edit_row(ids[-1], gid, "genai_edit", prompt, source, str(getattr(r, f"{side}_model")),
                                     edited, description=str(getattr(r, "target_prompt", "") or "")))
    result.comparisons.append(dict(comparison_id=gid, group_id=gid, edit_a=ids[0], edit_b=ids[1],
                                   label=VOTES[vote], dimension="overall", task="genai_edit", vote=vote))


def _human_votes(files: list[Path]) -> dict[int, tuple[Path, str]]:
    """idx -> (file, human_vote) from the benchmark's result files; every judge's file must
    carry the same human votes."""
    votes: dict[int, tuple[Path, str]] = {}
    for file in files:
        df = read_any_table(file)
        require_columns(df, ("idx", "instruct_prompt", "human_vote"), file)
        for row, (idx, vote) in enumerate(zip(df["idx"], df["human_vote"])):
            vote = _check_vote(vote, file, row, "human_vote")
            idx = int(idx)
            if idx in votes and votes[idx][1] != vote:
                raise ImportFormatError(file, f"human_vote {vote!r} of idx {idx} differs from {votes[idx][0]} "
                                        f"({votes[idx][1]!r})", row, "human_vote")
            votes.setdefault(idx, (file, vote))
    return votes


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


def evaluate(folder: Path, preds: pd.DataFrame, *, tie_margin=0.0, bad_threshold=None) -> dict:
    return protocol_genai(read_table(folder / "comparisons.parquet"), preds.set_index("edit_id")["overall"],
                          tie_margin=tie_margin, bad_threshold=bad_threshold)


BENCHMARK = Benchmark(
    name="genai-bench", column="GenAI-Bench", headline="acc_no_ties",
    importer=import_genai_bench, protocol=evaluate, options=("tie_margin", "bad_threshold"),
    summary="GenAI-Bench image editing: left/right battles; strict accuracy on non-tie pairs",
)
