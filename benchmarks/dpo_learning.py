"""Does the DPO trainer learn a preference? An honest check on CPU with a tiny pipeline.

The toy preference (`edithf.dpo.toy_pairs`): for "make it brighter and warmer", the chosen edit
is the source brightened and reddened, the rejected edit darkened and blued. After a few hundred
DPO steps we report
- the training curve (loss, implicit accuracy, reward margin, averaged per window);
- implicit accuracy of the tuned model against its reference on HELD-OUT pairs (new sources),
  averaged over noise/timestep draws (the untuned model scores exactly 0 there: inside = 0);
- the reward of generated edits (`warmth` = mean brightness + red - blue) before and after,
  same sources, prompts and seeds, with the LoRA loaded into a fresh pipeline by
  `load_lora_weights`; chosen and rejected images give the scale.

    python benchmarks/dpo_learning.py --family flux_kontext --steps 400
    python benchmarks/dpo_learning.py --family instruct_pix2pix --config configs/dpo_tiny_instruct_pix2pix.yaml

`--config` takes the DPO fields of a YAML file (beta, lr, timestep range, prediction type ...);
the command-line flags given explicitly override it.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

SIDE = {"qwen_image_edit": 32, "flux_kontext": 16, "instruct_pix2pix": 32}


def calibrated_pipeline(family: str, table: Path):
    """A tiny pipeline whose random VAE is normalised to unit-variance latents on the training
    images, as real VAEs are (SD's scaling_factor 0.18215, Qwen-Image's latents_mean/std, FLUX's
    shift/scale are exactly that). Uncalibrated, diffusers' test VAE configs shrink the toy's
    brightness difference to ~1% of the noise (latent rms 0.01 for InstructPix2Pix), which no
    model can learn from."""
    import pandas as pd
    from PIL import Image

    from edithf.dpo.tiny_pipelines import build_tiny_pipeline

    pipe = build_tiny_pipeline(family)
    vae, side = pipe.vae, SIDE[family]
    df = pd.read_parquet(table)
    images = [Image.open(table.parent / p).convert("RGB") for col in ("chosen", "rejected") for p in df[col]]
    x = pipe.image_processor.preprocess(images, height=side, width=side)
    with torch.no_grad():
        raw = vae.encode(x.unsqueeze(2) if family == "qwen_image_edit" else x).latent_dist.mode()
    if family == "qwen_image_edit":  # per channel, as the real Qwen-Image VAE
        dims = [0, 2, 3, 4]
        vae.register_to_config(latents_mean=raw.mean(dims).tolist(), latents_std=raw.std(dims).tolist())
    elif family == "flux_kontext":
        vae.register_to_config(shift_factor=float(raw.mean()), scaling_factor=float(1 / raw.std()))
    else:
        vae.register_to_config(scaling_factor=float(1 / raw.std()))
    return pipe


def edits_reward(pipe, table: Path, seeds, steps: int, side: int) -> float:
    """Mean warmth of the pipeline's edits of the table's sources."""
    import pandas as pd

    from edithf.dpo.generate import generate_edits
    from edithf.dpo.toy_pairs import warmth

    df = pd.read_parquet(table)
    sources = [table.parent / s for s in df.source] * len(seeds)
    seed_list = [s for s in seeds for _ in range(len(df))]
    images = generate_edits(pipe, sources, list(df.prompt) * len(seeds), seed_list,
                            num_inference_steps=steps, area=side * side)
    return float(warmth(images).mean())


def preference_coordinate(pipe, table: Path, seeds, steps: int, side: int) -> float:
    """Where the pipeline's generated latents lie on the rejected -> chosen axis of their pair:
    c = <z - m, d> / <d, d> with d = x_chosen - x_rejected, m their midpoint; chosen = +0.5,
    rejected = -0.5. Measured in latent space, because a random tiny VAE decoder need not map
    the chosen/rejected latent difference back to the pixel property (tiny Qwen's decodes
    chosen and rejected latents to the same warmth)."""
    from edithf.dpo.adapters import make_adapter
    from edithf.dpo.generate import generate_edits
    from edithf.dpo.pairs_data import EncodedPairs, load_pairs

    pairs = load_pairs(table)
    data = EncodedPairs(pairs, make_adapter(pipe, resolution=side, max_sequence_length=48))
    coords = []
    for seed in seeds:
        latents = generate_edits(pipe, list(pairs.source), list(pairs.prompt), [seed] * len(pairs),
                                 num_inference_steps=steps, area=side * side, output_type="latent")
        for i, z in enumerate(latents):
            w, l = data[i]["chosen"][0].flatten(), data[i]["rejected"][0].flatten()
            d = w - l
            coords.append(float((z.flatten().float() - (w + l) / 2) @ d / (d @ d)))
    return float(np.mean(coords))


def heldout_implicit_accuracy(pipe, table: Path, side: int, draws: int, cfg, seed: int = 123) -> float:
    """Share of (pair, noise, timestep) draws where the tuned model prefers chosen vs its reference;
    noise and timesteps are drawn as in training (`cfg`: its time range and prediction type)."""
    from edithf.dpo.adapters import make_adapter
    from edithf.dpo.dpo_trainer import DPOBatch, dpo_step_loss
    from edithf.dpo.pairs_data import EncodedPairs, load_pairs

    adapter = make_adapter(pipe, resolution=side, max_sequence_length=48)
    data = EncodedPairs(load_pairs(table), adapter)
    samples = [data[i] for i in range(len(data))]
    batch = DPOBatch(adapter, adapter.make_schedule(adapter.resolve(cfg)), torch.device("cpu"), torch.float32)
    generator = torch.Generator().manual_seed(seed)
    accs = []
    with torch.no_grad():
        for _ in range(draws):
            _, m = dpo_step_loss(adapter, adapter.denoiser, adapter.denoiser, batch(samples, generator), beta=1.0)
            accs.append(float(m["train/implicit_acc"]))
    return float(np.mean(accs))


def curve_table(rows: list[dict], every: int) -> list[dict]:
    keys = ("train/loss", "train/implicit_acc", "train/reward_margin")
    out = []
    for start in range(0, len(rows), every):
        window = rows[start:start + every]
        out.append({"step": window[-1]["step"], **{k: float(np.mean([r[k] for r in window])) for k in keys}})
    return out


def save_plot(curve: list[dict], path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=("DPO loss", "implicit accuracy", "reward margin"))
    steps = [c["step"] for c in curve]
    for col, key in enumerate(("train/loss", "train/implicit_acc", "train/reward_margin"), start=1):
        fig.add_trace(go.Scatter(x=steps, y=[c[key] for c in curve], mode="lines+markers", name=key), row=1, col=col)
    fig.update_layout(height=350, width=1050, showlegend=False, title="DPO on the toy preference (tiny pipeline, CPU)")
    from edithf.utils.io import atomic_write_text

    atomic_write_text(path, fig.to_html(include_plotlyjs="cdn"))


def benchmark_config(args, train_table: Path, out: Path, side: int):
    """DPOConfig from --config (if given), the benchmark defaults, then the explicit flags."""
    import yaml

    from edithf.config import load_config
    from edithf.dpo.dpo_config import DPOConfig

    values = {"max_steps": 400, "lr": 5e-3, "beta": 10.0, "lora_r": 8, "batch_size": 2}
    if args.config:
        values.update(yaml.safe_load(Path(args.config).read_text()) or {})
    flags = {"max_steps": args.steps, "lr": args.lr, "beta": args.beta, "timestep_max": args.timestep_max,
             "prediction_type": args.prediction_type}
    values.update({k: v for k, v in flags.items() if v is not None})
    values.update(pipeline=f"tiny:{args.family}", pairs=str(train_table), output_dir=str(out / "run"),
                  resolution=side, max_sequence_length=48, resume="never", progress_bar=False)
    values["save_every"] = values["max_steps"]
    return load_config(DPOConfig, None, values)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="flux_kontext", choices=sorted(SIDE))
    parser.add_argument("--config", help="a DPO YAML whose training fields are used (pipeline, pairs, "
                        "output_dir and resolution are the benchmark's)")
    parser.add_argument("--steps", type=int, default=None, help="default 400")
    parser.add_argument("--lr", type=float, default=None, help="default 5e-3")
    parser.add_argument("--beta", type=float, default=None, help="default 10")
    parser.add_argument("--timestep-max", type=float, default=None, help="DPOConfig.timestep_max (default 1)")
    parser.add_argument("--prediction-type", default=None, choices=["auto", "epsilon", "v_prediction"])
    parser.add_argument("--sources", type=int, default=6, help="training sources (pairs)")
    parser.add_argument("--every", type=int, default=40, help="curve window in steps")
    parser.add_argument("--out", default="runs/dpo_learning")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    import shutil

    from PIL import Image

    from edithf.dpo.dpo_trainer import train_dpo
    from edithf.runs import read_metrics
    from edithf.dpo.toy_pairs import make_toy_pairs, warmth

    side, out = SIDE[args.family], Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    train_table = make_toy_pairs(out / "train", n_sources=args.sources, size=side, seed=0)
    heldout_table = make_toy_pairs(out / "heldout", n_sources=4, size=side, seed=1)
    import pandas as pd

    df = pd.read_parquet(train_table)
    scale = {k: float(warmth([Image.open(train_table.parent / p) for p in df[k]]).mean()) for k in ("chosen", "rejected")}
    seeds, gen_steps = [0, 1, 2], 10
    base = calibrated_pipeline(args.family, train_table)
    tables = (("train", train_table), ("heldout", heldout_table))
    before = {name: (preference_coordinate(base, t, seeds, gen_steps, side), edits_reward(base, t, seeds, gen_steps, side))
              for name, t in tables}

    cfg = benchmark_config(args, train_table, out, side)
    start = time.perf_counter()
    best = train_dpo(cfg, pipeline=calibrated_pipeline(args.family, train_table))
    seconds = time.perf_counter() - start

    rows = [r for r in read_metrics(out / "run" / "metrics.jsonl") if "train/loss" in r]
    curve = curve_table(rows, args.every)
    print(f"family={args.family} steps={cfg.max_steps} lr={cfg.lr} beta={cfg.beta} "
          f"t in [{cfg.timestep_min}, {cfg.timestep_max}] prediction_type={cfg.prediction_type} pairs={args.sources} "
          f"batch={cfg.batch_size} pairs; training took {seconds:.0f} s")
    print("| steps up to | loss | implicit acc | reward margin |\n|---|---|---|---|")
    for c in curve:
        print(f"| {c['step']} | {c['train/loss']:.4f} | {c['train/implicit_acc']:.3f} | {c['train/reward_margin']:.3f} |")
    tuned = calibrated_pipeline(args.family, train_table)
    tuned.load_lora_weights(str(best))
    if cfg.prediction_type != "auto":  # the LoRA learnt this target: its sampler must read it so
        tuned.scheduler.register_to_config(prediction_type=cfg.prediction_type)
    after = {name: (preference_coordinate(tuned, t, seeds, gen_steps, side), edits_reward(tuned, t, seeds, gen_steps, side))
             for name, t in tables}
    acc = heldout_implicit_accuracy(tuned, heldout_table, side, draws=20, cfg=cfg)
    print(f"\nheld-out implicit accuracy of the tuned model vs its reference: {acc:.3f} (untuned: 0)")
    print(f"generated edits, {len(seeds)} seeds x sources; latent coordinate: chosen +0.5, rejected -0.5; "
          f"pixel warmth: chosen images {scale['chosen']:.1f}, rejected images {scale['rejected']:.1f}")
    print("| sources | latent coord. base | tuned | pixel warmth base | tuned |\n|---|---|---|---|---|")
    for name, _ in tables:
        (cb, wb), (ct, wt) = before[name], after[name]
        print(f"| {name} | {cb:+.3f} | {ct:+.3f} | {wb:.1f} | {wt:.1f} |")
    save_plot(curve, out / "curve.html")
    print(f"\ncurve: {out / 'curve.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
