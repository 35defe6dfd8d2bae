"""Self-DPO preference pairs as the paper builds them (section 5.5): N seeds per instruction
(20 in the paper) from a diffusers editing pipeline, every edit scored by a scorer, then the
rules of `edithf.reward.pairs.pairs_from_scores` (chosen = best seed, rejected = worst, low
instructions dropped, the better `keep_fraction` of each task kept).

    pairs = run_self_dpo("tiny:instruct_pix2pix", "instructions.csv", "runs/self_dpo",
                         scorer="edithf:runs/evaluator/best", n_seeds=20, num_inference_steps=28)

Resumable: a killed run started again on the same folder continues. The folder holds

    run.json                         what generates the edits (pipeline, seeds, settings, instructions);
                                     another request on the same folder is an error, not a mix
    sources/<instruction_id>.<ext>   copies of the sources, so the folder is a dataset folder
    images/<instruction_id>_seed<k>.png   one per (instruction, seed), written atomically: a file
                                     that exists is finished, so only missing seeds are generated
    edits.parquet                    the edits as a dataset `edits` table (+ instruction_id, seed);
                                     also a generations table for `edithf pairs self --generations`
    scores/<scorer>.parquet          predictions by `edithf.predict.predict_dataset` (resumable per
                                     batch; a finished file is reused, so the rules can be re-run:
                                     delete it after retraining a scorer kept at the same path)
    pairs.parquet                    the preference pairs (schema: edithf/dpo/pairs_data.py)
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

from edithf.data.schema import DIMENSIONS
from edithf.reward.pairs import DEFAULT_KEEP_FRACTION, DEFAULT_MIN_SCORE, EQUAL_WEIGHTS, pairs_from_scores
from edithf.utils.io import atomic_path, atomic_write_text, read_table, write_table

DEFAULT_SEEDS = 20  # the paper's number of seeds per instruction


def read_self_dpo_instructions(instructions) -> pd.DataFrame:
    """Instructions (table path or DataFrame): `source, prompt` (+ `task`, `instruction_id`);
    a missing task makes the whole table one task, a missing id numbers the rows."""
    from edithf.dpo.evaluate import read_instructions

    table = read_instructions(instructions)
    if "task" not in table:
        table["task"] = "all"
    if "instruction_id" not in table:
        table["instruction_id"] = [f"i{i:05d}" for i in range(len(table))]
    table["instruction_id"] = table["instruction_id"].astype(str)
    unsafe = [i for i in table["instruction_id"] if not re.fullmatch(r"[A-Za-z0-9._-]+", i)]
    if unsafe or not table["instruction_id"].is_unique:
        raise ValueError(f"instruction_id must be unique and made of letters, digits, '.', '_', '-' (they name "
                         f"the image files); got {unsafe[:3] or 'duplicates'}")
    missing = [p for p in table["source"] if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"instructions: source image not found: {missing[0]} ({len(missing)} missing)")
    return table.reset_index(drop=True)


def _run_record(pipeline, table: pd.DataFrame, seeds: list[int], generate_kwargs: dict) -> dict:
    digest = hashlib.sha1("\n".join(f"{r.instruction_id}|{r.source}|{r.prompt}" for r in table.itertuples())
                          .encode()).hexdigest()
    name = pipeline if isinstance(pipeline, str) else type(pipeline).__name__
    return {"pipeline": name, "seeds": seeds, "generate": generate_kwargs, "instructions": digest}


def _start(out_dir: Path, record: dict, resume: bool) -> None:
    marker = out_dir / "run.json"
    if marker.exists() and resume:
        previous = json.loads(marker.read_text())
        if previous != record:
            raise ValueError(f"{out_dir} holds a Self-DPO run of {previous}, not of {record}; use another folder "
                             "or resume=False (--restart) to start over there")
        return
    for name in ("images", "sources", "scores", "edits.parquet", "pairs.parquet"):
        path = out_dir / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps(record, sort_keys=True, indent=1))


def _edits_table(table: pd.DataFrame, seeds: list[int], editor: str) -> pd.DataFrame:
    rows = table.loc[table.index.repeat(len(seeds))].reset_index(drop=True)
    rows["seed"] = seeds * len(table)
    rows["group_id"] = rows["instruction_id"]
    rows["edit_id"] = [f"{r.instruction_id}_seed{r.seed}" for r in rows.itertuples()]
    rows["edited"] = [f"images/{e}.png" for e in rows["edit_id"]]
    rows["source_file"] = rows["source"]
    rows["source"] = [f"sources/{r.instruction_id}{Path(r.source_file).suffix.lower()}" for r in rows.itertuples()]
    rows["model"] = editor
    return rows


def _load_pipeline(spec: str, device: str):
    """The pipeline on `device` ("auto": the GPU when there is one), bfloat16 on a GPU."""
    import torch

    from edithf.dpo.adapters import load_pipeline

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device.startswith("cuda") and not spec.startswith("tiny:") else None
    return load_pipeline(spec, torch_dtype=dtype).to(device)


def generate_missing(pipeline, edits: pd.DataFrame, out_dir: Path, *, device: str = "auto", progress=None,
                     **generate_kwargs) -> int:
    """Generate the edits whose image file does not exist yet, one instruction at a time (each
    image written as soon as its instruction is done); returns how many were generated."""
    from edithf.dpo.generate import generate_edits

    todo = edits[[not (out_dir / e).is_file() for e in edits["edited"]]]
    for source_file, source in set(zip(todo["source_file"], todo["source"])):
        if not (out_dir / source).is_file():
            with atomic_path(out_dir / source) as tmp:
                shutil.copyfile(source_file, tmp)
    done = 0
    for _, group in todo.groupby("instruction_id", sort=False):
        if isinstance(pipeline, str):
            pipeline = _load_pipeline(pipeline, device)  # only when something is left to generate
        images = generate_edits(pipeline, [str(out_dir / s) for s in group["source"]], group["prompt"].tolist(),
                                group["seed"].tolist(), **generate_kwargs)
        for image, rel in zip(images, group["edited"]):
            with atomic_path(out_dir / rel) as tmp:
                image.save(tmp, format="PNG")
        done += len(group)
        if progress is not None:
            progress(done, len(todo))
    return done


def score_edits(scorer, out_dir: Path, *, batch_size: int = 8, progress: bool = True) -> pd.DataFrame:
    """Predictions of every edit of the run folder, reused when a finished file exists."""
    from edithf.predict import predict_dataset, resolve_evaluator

    name = scorer if isinstance(scorer, str) else scorer.info.name
    path = out_dir / "scores" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.parquet"
    edit_ids = read_table(out_dir / "edits.parquet")["edit_id"].astype(str)
    if path.is_file():
        done = read_table(path)
        if set(done["edit_id"].astype(str)) == set(edit_ids):
            return done
    evaluator = resolve_evaluator(scorer)
    return predict_dataset(evaluator, out_dir, path, batch_size=batch_size, resume=True, progress=progress)


def run_self_dpo(pipeline, instructions, out_dir, scorer, *, n_seeds: int = DEFAULT_SEEDS, seeds=None,
                 weights=EQUAL_WEIGHTS, overall_weights=None, min_score: float | None = DEFAULT_MIN_SCORE,
                 keep_fraction: float = DEFAULT_KEEP_FRACTION, batch_size: int = 8, editor: str | None = None,
                 resume: bool = True, progress: bool = True, device: str = "auto", **generate_kwargs) -> pd.DataFrame:
    """Generate, score and pair (see the module docstring); returns the pairs, also written to
    `out_dir/pairs.parquet`. `pipeline` is a `load_pipeline` spec or a pipeline object;
    `generate_kwargs` go to `edithf.dpo.generate.generate_edits` (num_inference_steps, area, ...)."""
    out_dir = Path(out_dir)
    seeds = [int(s) for s in (range(n_seeds) if seeds is None else seeds)]
    if len(set(seeds)) < 2:
        raise ValueError(f"Self-DPO needs at least two distinct seeds per instruction (the paper uses 20), got {seeds}")
    table = read_self_dpo_instructions(instructions)
    _start(out_dir, _run_record(pipeline, table, seeds, generate_kwargs), resume)
    edits = _edits_table(table, seeds, editor or (pipeline if isinstance(pipeline, str) else type(pipeline).__name__))
    report = (lambda done, total: print(f"generated {done}/{total} edits", file=sys.stderr, flush=True)) if progress else None
    generate_missing(pipeline, edits, out_dir, device=device, progress=report, **generate_kwargs)
    write_table(edits.drop(columns="source_file"), out_dir / "edits.parquet")
    scores = score_edits(scorer, out_dir, batch_size=batch_size, progress=progress)
    scored = edits.drop(columns="source_file").merge(scores[["edit_id", *DIMENSIONS]], on="edit_id")
    for col in ("source", "edited"):
        scored[col] = [str((out_dir / p).absolute()) for p in scored[col]]
    name = scorer if isinstance(scorer, str) else scorer.info.name
    return pairs_from_scores(scored, name, out_dir / "pairs.parquet", weights=weights,
                             overall_weights=overall_weights, min_score=min_score, keep_fraction=keep_fraction)
