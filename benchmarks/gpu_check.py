"""The GPU check: the head scorer at InternVL3.5-8B size and one Qwen-Image-Edit DPO step, on one GPU.

1. Scorer: EditHFModel on a random-weight InternVL3.5-8B (InternViT-300M + Qwen3-8B, bf16, sdpa
   attention; benchmarks/scoring_throughput.py builds it), 8-edit groups of random 640x480
   images: edits/s one-by-one and group-shared, CUDA peak memory, and the fraction of the card's
   dense bf16 peak the one-by-one pass reaches (MFU). FLOPs = 2 x parameters x tokens the linear
   layers see (counted by hooks on the vision tower and the language model: the tokens actually
   run, padding included); attention's own FLOPs are left out, so the fraction is a lower bound.
2. DPO: one step of the Qwen-Image-Edit transformer at its real width (random bf16 weights,
   benchmarks/dpo_step.py builds it; --dpo-layers cuts the depth), LoRA r 16 and gradient
   checkpointing, 512x512: step time and peak memory of the plain and the DPO step, and their ratio.

    bash benchmarks/gpu_check.sh                 # on one H100/H200, well under 8 minutes
    bash benchmarks/gpu_check.sh --dry-run       # the same code at tiny size on CPU (tests run it)

Prints a markdown table and one JSON line (`--json FILE` also writes it), with the card's name.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# dense bf16 tensor-core peak, TFLOP/s, by card name (SXM parts; H100 PCIe: 756)
BF16_PEAK_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0}


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_tflops(device_name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in device_name), None)


class TokenCounter:
    """Forward pre-hooks adding up the tokens the vision tower and the language model run."""

    def __init__(self, base):
        self.vision = self.language = 0
        inner = base.model
        patches = (inner.config.vision_config.image_size[0] // inner.config.vision_config.patch_size[0]) ** 2 + 1
        self.params_vision = sum(p.numel() for p in inner.vision_tower.parameters())
        lm = inner.language_model
        self.params_language = sum(p.numel() for p in lm.parameters()) - lm.embed_tokens.weight.numel()
        inner.vision_tower.register_forward_pre_hook(
            lambda m, args, kwargs: self._add("vision", kwargs.get("pixel_values", args[0] if args else None).shape[0] * patches),
            with_kwargs=True)
        lm.register_forward_pre_hook(lambda m, args, kwargs: self._add("language", kwargs["inputs_embeds"].shape[:2].numel()),
                                     with_kwargs=True)

    def _add(self, part: str, n: int) -> None:  # vision: patches; language: token positions
        setattr(self, part, getattr(self, part) + int(n))

    def flops(self) -> float:
        return 2.0 * (self.params_vision * self.vision + self.params_language * self.language)


def scorer_check(args, device) -> dict:
    import torch

    bench = _bench("scoring_throughput")
    size = "internvl-mini" if args.dry_run else "internvl-8b"
    model = bench.build(size, device.type).eval()
    base = model.backbone.get_base_model()
    counter = TokenCounter(base)
    data = bench.groups("random", args.groups)
    out = {"size": size, "edits": 8 * args.groups, "batch": args.batch,
           "attention": base.config.text_config._attn_implementation, "dtype": str(base.dtype)[6:]}
    for mode, fn in (("one_by_one", bench.one_by_one), ("shared", bench.shared)):
        fn(model, data[:1], args.batch)  # warm-up
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        counter.vision = counter.language = 0
        start = time.perf_counter()
        fn(model, data, args.batch)
        _sync(device)
        seconds = time.perf_counter() - start
        out[f"{mode}_edits_per_s"] = out["edits"] / seconds
        out[f"{mode}_tflops_per_s"] = counter.flops() / seconds / 1e12
        out[f"{mode}_tokens"] = {"vision_patches": counter.vision, "language": counter.language}
        if device.type == "cuda":
            out[f"{mode}_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def dpo_check(args, device) -> dict:
    import torch

    bench = _bench("dpo_step")
    torch.manual_seed(0)
    if args.dry_run:
        adapter, samples = bench.tiny_setup("qwen_image_edit", args.pairs, device)
        dtype = torch.float32
    else:
        dtype = torch.bfloat16
        adapter, samples = bench.realistic_setup("qwen_image_edit", args.pairs, device, args.resolution,
                                                 args.dpo_layers or None, dtype)
    layers = len(adapter.denoiser.transformer_blocks)
    width = adapter.denoiser.config.num_attention_heads * adapter.denoiser.config.attention_head_dim
    plain, dpo = bench.make_steps(adapter, samples, device, dtype, gradient_checkpointing=True)
    t_plain, m_plain = bench.measure(plain, device, args.repeats)
    t_dpo, m_dpo = bench.measure(dpo, device, args.repeats)
    out = {"layers": layers, "width": width, "pairs": args.pairs, "resolution": args.resolution,
           "plain_step_s": t_plain, "dpo_step_s": t_dpo, "dpo_over_plain": t_dpo / t_plain,
           "plain_peak_extra_mib": m_plain, "dpo_peak_extra_mib": m_dpo}
    if device.type == "cuda":
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def report(result: dict) -> str:
    s, d = result["scorer"], result["dpo"]
    peak = result.get("bf16_peak_tflops")
    frac = (lambda mode: f"{s[f'{mode}_tflops_per_s'] / peak:.1%}") if peak else (lambda mode: "n/a")
    mem = lambda key, src: f"{src[key]:.1f}" if key in src else "n/a"  # noqa: E731
    lines = [
        f"card: {result['device_name']}  (dry run: {result['dry_run']})",
        f"| scorer {s['size']} ({s['dtype']}, {s['attention']}), batch {s['batch']}, {s['edits']} edits "
        "| edits/s | TFLOP/s (linear layers) | fraction of bf16 peak | peak GiB |",
        "|---|---|---|---|---|",
        *(f"| {mode.replace('_', '-')} | {s[f'{mode}_edits_per_s']:.2f} | {s[f'{mode}_tflops_per_s']:.3f} | "
          f"{frac(mode)} | {mem(f'{mode}_peak_gib', s)} |" for mode in ("one_by_one", "shared")),
        "",
        f"| Qwen-Image-Edit transformer: {d['layers']} layers, width {d['width']}, LoRA r 16, gradient checkpointing, "
        f"{d['pairs']} pair(s) at {d['resolution']} px | plain | DPO | DPO / plain |",
        "|---|---|---|---|",
        f"| step time (s) | {d['plain_step_s']:.3f} | {d['dpo_step_s']:.3f} | {d['dpo_over_plain']:.2f} |",
        f"| peak memory above the weights (MiB) | {d['plain_peak_extra_mib']:.0f} | {d['dpo_peak_extra_mib']:.0f} | |",
        f"| peak allocated (GiB) | {mem('peak_gib', d)} | | |",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on CPU: checks the code path, no figures")
    p.add_argument("--groups", type=int, default=8, help="8-edit groups the scorer scores")
    p.add_argument("--batch", type=int, default=8, help="scorer: edits per forward pass")
    p.add_argument("--pairs", type=int, default=1, help="DPO: pairs per step (2 x pairs images)")
    p.add_argument("--resolution", type=int, default=512, help="DPO: image side in pixels")
    p.add_argument("--dpo-layers", type=int, default=0, help="DPO: cut the transformer's depth (0 = all 60)")
    p.add_argument("--repeats", type=int, default=3, help="DPO: timed steps (after 2 warm-up steps)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the card's dense bf16 peak (default: by name)")
    p.add_argument("--json", default=None, help="also write the result as JSON to this file")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (dry run)")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.dry_run:
        args.groups, args.batch, args.pairs, args.resolution, args.repeats = 1, 4, 1, 32, 1
        device = torch.device("cpu")
    elif not torch.cuda.is_available():
        p.error("no CUDA device: run with --dry-run for the CPU code-path check")
    else:
        device = torch.device("cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {"device_name": name, "dry_run": args.dry_run,
              "bf16_peak_tflops": None if args.dry_run else peak_tflops(name, args.peak_tflops)}
    result["scorer"] = scorer_check(args, device)
    if device.type == "cuda":  # free the 8B scorer before the 20B transformer
        import gc

        gc.collect()
        torch.cuda.empty_cache()
    result["dpo"] = dpo_check(args, device)
    print(report(result))
    print(json.dumps(result))
    if args.json:
        from edithf.utils.io import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
