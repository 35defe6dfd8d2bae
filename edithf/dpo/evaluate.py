"""Does a DPO LoRA make a better editor? Base vs tuned edits, scored by any registry scorer.

    result = evaluate_lora("tiny:qwen_image_edit", "runs/dpo/best", "instructions.csv", scorer="dummy",
                           seeds=[0, 1], num_inference_steps=20, area=32 * 32)
    print(result.to_markdown())    # paper Table 6 shape: base / tuned / gain / improvement %

Both variants use the same pipeline object, the same sources, prompts and seeds; the LoRA is
loaded with `pipe.load_lora_weights` and unloaded afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from edithf.data.schema import DIMENSIONS

SCORE_COLUMNS = (*DIMENSIONS, "overall")


@dataclass
class DPOEvaluation:
    summary: Any              # DataFrame: rows base, tuned, gain, improvement_% ; columns SCORE_COLUMNS
    scores: Any               # DataFrame: one row per (instruction, seed, variant)
    base_images: list = field(default_factory=list)
    tuned_images: list = field(default_factory=list)

    def to_markdown(self) -> str:
        return markdown_table(self.summary)


def markdown_table(df, digits: int = 2) -> str:
    """A DataFrame as a GitHub markdown table (pandas' to_markdown needs tabulate)."""
    head = ["", *map(str, df.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for idx, row in df.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def read_instructions(instructions):
    """A DataFrame or a table path with columns source, prompt (+ optional task); relative
    image paths are resolved against the table's folder."""
    from edithf.utils.io import read_table

    if not hasattr(instructions, "columns"):
        path = Path(instructions)
        df = read_table(path)
        root = path.parent
    else:
        df, root = instructions.copy(), Path(".")
    missing = [c for c in ("source", "prompt") if c not in df.columns]
    if missing:
        raise ValueError(f"instructions lack column(s) {missing}; they have {list(df.columns)}")
    if df.empty:
        raise ValueError("the instructions table has no rows")
    df = df.reset_index(drop=True)
    df["source"] = [str(p if Path(p).is_absolute() else root / p) for p in df["source"].astype(str)]
    return df


def summarize(base, tuned):
    """Per-dimension means of both variants, their difference and relative gain in percent."""
    import pandas as pd

    b, t = base[list(SCORE_COLUMNS)].mean(), tuned[list(SCORE_COLUMNS)].mean()
    return pd.DataFrame({"base": b, "tuned": t, "gain": t - b, "improvement_%": 100 * (t - b) / b.abs()}).T


def evaluate_lora(pipeline, lora: str | Path, instructions, scorer="dummy", seeds: Sequence[int] = (0,),
                  num_inference_steps: int = 28, area: int | None = None, out_dir: str | Path | None = None,
                  batch_size: int = 1, **generate_kwargs) -> DPOEvaluation:
    """Generate with the base pipeline and with the LoRA, score both, summarise the gain.

    `pipeline` is a spec for `load_pipeline` or a pipeline object; `scorer` a registry name or an
    Evaluator. With `out_dir`, the edits, per-edit scores and the report are written there."""
    import pandas as pd

    from edithf.dpo.adapters import load_pipeline
    from edithf.dpo.generate import generate_edits
    from edithf.evaluators.registry import create_evaluator

    lora = Path(lora)
    if not lora.is_dir():
        raise FileNotFoundError(f"LoRA folder not found: {lora} (a DPO run writes it to output_dir/best)")
    table = read_instructions(instructions)
    pipe = load_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
    evaluator = create_evaluator(scorer) if isinstance(scorer, str) else scorer
    rows = [(i, s) for i in range(len(table)) for s in seeds]
    sources = [table["source"][i] for i, _ in rows]
    prompts = [table["prompt"][i] for i, _ in rows]
    seed_list = [s for _, s in rows]
    gen = dict(num_inference_steps=num_inference_steps, area=area, batch_size=batch_size, **generate_kwargs)
    base_images = generate_edits(pipe, sources, prompts, seed_list, **gen)
    pipe.load_lora_weights(str(lora), adapter_name="dpo")
    try:
        tuned_images = generate_edits(pipe, sources, prompts, seed_list, **gen)
    finally:
        pipe.unload_lora_weights()
    frames = []
    for variant, images in (("base", base_images), ("tuned", tuned_images)):
        df = evaluator.score(sources, images, prompts)
        df.insert(0, "variant", variant)
        df.insert(0, "seed", seed_list)
        df.insert(0, "instruction", [i for i, _ in rows])
        if "task" in table.columns:
            df.insert(3, "task", [table["task"][i] for i, _ in rows])
        frames.append(df)
    scores = pd.concat(frames, ignore_index=True)
    result = DPOEvaluation(summarize(frames[0], frames[1]), scores, base_images, tuned_images)
    if out_dir is not None:
        _write(result, Path(out_dir), lora, scorer)
    return result


def _write(result: DPOEvaluation, out: Path, lora: Path, scorer) -> None:
    from edithf.utils.io import atomic_path, atomic_write_text, write_table

    for variant, images in (("base", result.base_images), ("tuned", result.tuned_images)):
        for image, row in zip(images, result.scores[result.scores.variant == variant].itertuples()):
            with atomic_path(out / "edits" / f"{row.instruction:04d}_seed{row.seed}_{variant}.png") as tmp:
                image.save(tmp, format="PNG")
    write_table(result.scores, out / "scores.parquet")
    name = scorer if isinstance(scorer, str) else type(scorer).__name__
    atomic_write_text(out / "report.md", f"# DPO evaluation\n\nLoRA: `{lora}`; scorer: `{name}`; "
                      f"{len(result.base_images)} edits per variant.\n\n{result.to_markdown()}\n")
