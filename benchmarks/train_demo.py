"""Train a tiny EditHF evaluator on the synthetic demo benchmark (CPU, minutes) and compare it
on the TEST split with the same model untrained and with the classic baselines.

    python benchmarks/train_demo.py                     # demo with 64 groups, configs/train_demo.yaml
    python benchmarks/train_demo.py --groups 32 --threads 2 train_overrides lr=2e-3 epochs=[1,3,1]

Prints a markdown table: per dimension SRCC, PLCC, within-group SRCC (gSRCC) and pair
accuracy (strict), one row per scorer, then the wall times. Writes it to OUT/results.md and the
raw numbers to OUT/results.json. The demo benchmark is synthetic (docs/demo.md).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ("classic", "psnr", "ssim", "ms_ssim", "vif", "gmsd", "nr_stats")
COLUMNS = (("srcc", "SRCC"), ("plcc", "PLCC"), ("group_srcc", "gSRCC"), ("pair_acc", "Acc"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/train_demo", help="working folder (demo, runs, predictions, results)")
    p.add_argument("--demo", help="an existing demo/dataset folder (default: build OUT/demo)")
    p.add_argument("--groups", type=int, default=64, help="groups of the demo benchmark to build")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", default=str(ROOT / "configs" / "train_demo.yaml"))
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated scorer names")
    p.add_argument("overrides", nargs="*", help="TrainConfig key=value overrides")
    return p.parse_args()


def build_or_reuse_demo(args, out: Path) -> Path:
    from edithf.demo import build_demo

    if args.demo:
        return Path(args.demo)
    demo = out / "demo"
    if not (demo / "edits.parquet").exists():
        build_demo(demo, seed=args.seed, n_groups=args.groups)
    return demo


def save_untrained(cfg, folder: Path) -> Path:
    """The model the trainer starts from (same config, same seed), saved as a scorer folder."""
    from accelerate.utils import set_seed

    from edithf.models.edithf_config import EditHFConfig
    from edithf.models.edithf_model import EditHFModel

    set_seed(cfg.seed)
    return EditHFModel.from_config(EditHFConfig(**cfg.model_overrides()), device="cpu").save_pretrained(folder)


def evaluate(name: str, scorer: str, demo: Path, preds_dir: Path, dataset) -> tuple[dict, float]:
    from edithf.metrics import evaluate_predictions
    from edithf.predict import predict_dataset

    start = time.perf_counter()
    preds = predict_dataset(scorer, demo, preds_dir / f"{name}.parquet", split="test", resume=False,
                            progress=False)
    seconds = time.perf_counter() - start
    return evaluate_predictions(dataset, preds, split="test"), seconds


def fmt(value, spec: str = ".3f") -> str:
    """A metric as text; "n/a" where there is none (a dimension the scorer does not judge, a
    constant prediction): never a NaN printed as a number."""
    return "n/a" if value is None or not math.isfinite(value) else format(value, spec)


def table(rows: dict[str, dict]) -> str:
    from edithf.data.schema import DIMENSIONS

    head = "| scorer | " + " | ".join(f"{d[:4]}. {label}" for d in DIMENSIONS for _, label in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (1 + len(DIMENSIONS) * len(COLUMNS))]
    for name, m in rows.items():
        cells = [fmt(m.get(f"{key}_{d}")) for d in DIMENSIONS for key, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparisons(rows: dict[str, dict], dimensions) -> list[str]:
    """The trained model against the untrained one and, on alignment, the best classic baseline
    that judged it (none of the shipped ones does: their alignment is n/a, so no line then)."""
    trained, untrained = rows["EditHF trained"], rows["EditHF untrained"]
    lines = ["trained - untrained SRCC: " + ", ".join(
        f"{d} {fmt(trained.get(f'srcc_{d}', math.nan) - untrained.get(f'srcc_{d}', math.nan), '+.3f')}"
        for d in dimensions)]
    classic = [m["srcc_alignment"] for k, m in rows.items()
               if "classic" in k and math.isfinite(m.get("srcc_alignment", math.nan))]
    if classic:
        lines.append(f"alignment SRCC: trained {fmt(trained.get('srcc_alignment'))} vs best classic {max(classic):.3f}")
    return lines


def main() -> int:
    import torch

    from edithf.config import load_config
    from edithf.data.dataset import load_dataset
    from edithf.data.schema import DIMENSIONS
    from edithf.training.edithf_trainer import EditHFTrainer
    from edithf.training.train_config import TrainConfig
    from edithf.utils.io import atomic_write_text, json_safe

    args = parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    demo = build_or_reuse_demo(args, out)
    t_demo = time.perf_counter() - t0
    dataset = load_dataset(demo)
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    cfg = load_config(TrainConfig, args.config, [f"dataset={demo}", f"output_dir={run_dir}", "progress_bar=false",
                                                *args.overrides])
    untrained = save_untrained(cfg, out / "untrained")

    t0 = time.perf_counter()
    result = EditHFTrainer(cfg).train()
    t_train = time.perf_counter() - t0

    rows, timings = {}, {}
    scorers = {"EditHF untrained": f"edithf:{untrained}",
               **{f"{b} (classic)" if b != "classic" else "classic (combined)": b
                  for b in args.baselines.split(",") if b},
               "EditHF trained": f"edithf:{run_dir / 'best'}"}
    for name, scorer in scorers.items():
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        rows[name], timings[name] = evaluate(slug, scorer, demo, out / "predictions", dataset)

    counts = dataset.edits["split"].value_counts().to_dict()
    text = [f"Demo benchmark (synthetic): {len(dataset.edits)} edits, splits {counts}; TEST split below.",
            "", table(rows), "",
            f"Training: {result['step']} optimizer steps in {t_train:.0f} s wall "
            f"(best {cfg.metric_for_best} = {fmt(result['best_metric'])} at step {result['best_step']}); "
            f"demo build {t_demo:.0f} s; torch threads {args.threads}.",
            "Scoring the test split (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())]
    report = "\n".join(text + comparisons(rows, DIMENSIONS))
    print(report)
    atomic_write_text(out / "results.md", report + "\n")
    raw = {"rows": rows, "timings_s": timings, "train_s": t_train, "train_result": result}
    atomic_write_text(out / "results.json", json.dumps(json_safe(raw), indent=2, default=str, allow_nan=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
