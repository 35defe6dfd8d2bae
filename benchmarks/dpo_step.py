"""Time and peak memory of one DPO step vs one plain LoRA fine-tuning step, per family.

Both steps see the same 2B samples (B pairs = B chosen + B rejected latents, same condition):
- plain: policy forward + backward on the 2B samples, loss = mean squared error to the target;
- DPO:   the same, plus one no-grad forward of the reference (adapter disabled) on the 2B samples.
So DPO should cost about 4/3 of the plain step (forward ~1, backward ~2 units).

    python benchmarks/dpo_step.py                                   # tiny pipelines, CPU
    python benchmarks/dpo_step.py --device cuda --size realistic    # real architectures, random bf16 weights

`--size realistic` builds only the denoiser at its real size (Qwen-Image 20B, FLUX.1 12B,
SD 1.5 UNet with 8 input channels) with random weights and feeds it cached-condition tensors of
the real shapes at 512x512, which is exactly what a DPO step touches (the VAE and text encoders
run once per sample, before training). Peak memory: CUDA allocator peak on GPU; on CPU the
peak resident-set growth during the step (sampled every millisecond from /proc/self/statm).
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import types

import torch

FAMILIES = ("qwen_image_edit", "flux_kontext", "instruct_pix2pix")


# -- building the things a step needs ----------------------------------------------------------
def tiny_setup(family: str, batch: int, device):
    """A tiny pipeline's adapter and B encoded toy pairs."""
    import tempfile

    from edithf.dpo.adapters import make_adapter
    from edithf.dpo.pairs_data import EncodedPairs, load_pairs
    from edithf.dpo.tiny_pipelines import build_tiny_pipeline
    from edithf.dpo.toy_pairs import make_toy_pairs

    side = 16 if family == "flux_kontext" else 32
    pipe = build_tiny_pipeline(family).to(device)
    adapter = make_adapter(pipe, resolution=side, max_sequence_length=48)
    table = make_toy_pairs(tempfile.mkdtemp(prefix="dpo_step_"), n_sources=batch, size=side)
    data = EncodedPairs(load_pairs(table), adapter)
    return adapter, [data[i] for i in range(batch)]


REALISTIC = {  # denoiser class, its config, pipeline class (for static helpers), latent channels, text shape
    "qwen_image_edit": ("QwenImageTransformer2DModel", {}, "QwenImageEditPipeline", 16, (256, 3584)),
    "flux_kontext": ("FluxTransformer2DModel", {"guidance_embeds": True}, "FluxKontextPipeline", 16, (512, 4096)),
    "instruct_pix2pix": ("UNet2DConditionModel", {"in_channels": 8, "cross_attention_dim": 768},
                         "StableDiffusionInstructPix2PixPipeline", 4, (77, 768)),
}


def realistic_setup(family: str, batch: int, device, resolution: int = 512, layers: int | None = None,
                    dtype=torch.bfloat16):
    """The real-size denoiser (random bf16 weights) and samples of the real cached shapes.
    `layers` cuts the depth of the transformers (a quick check of the code path on CPU)."""
    import diffusers

    from edithf.dpo.adapters import SUPPORTED

    model_cls, config, pipe_cls, channels, (text_len, text_dim) = REALISTIC[family]
    if layers and family == "qwen_image_edit":
        config = {**config, "num_layers": layers}
    elif layers and family == "flux_kontext":
        config = {**config, "num_layers": layers, "num_single_layers": layers}
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # build directly on the GPU, in low precision
            denoiser = getattr(diffusers, model_cls)(**config)
    finally:
        torch.set_default_dtype(torch.float32)
    pipe_class = getattr(diffusers, pipe_cls)
    vae_scale = 8
    multiple = vae_scale * (1 if family == "instruct_pix2pix" else 2)
    name = "unet" if family == "instruct_pix2pix" else "transformer"
    pipe = types.SimpleNamespace(**{name: denoiser}, vae_scale_factor=vae_scale,
                                 image_processor=types.SimpleNamespace(config=types.SimpleNamespace(vae_scale_factor=multiple)),
                                 scheduler=diffusers.PNDMScheduler(skip_prk_steps=True),
                                 _prepare_latent_image_ids=pipe_class._prepare_latent_image_ids
                                 if hasattr(pipe_class, "_prepare_latent_image_ids") else None)
    adapter = SUPPORTED[pipe_cls](pipe, resolution=resolution)
    latent = resolution // vae_scale
    if family == "instruct_pix2pix":
        target = lambda: torch.randn(1, channels, latent, latent)
        cond = lambda: {"prompt_embeds": torch.randn(1, text_len, text_dim), "image_latents": target()}
    else:
        tokens = (latent // 2) ** 2
        target = lambda: torch.randn(1, tokens, channels * 4)
        cond = lambda: {"prompt_embeds": torch.randn(1, text_len, text_dim), "image_tokens": target(),
                        **({"pooled": torch.randn(1, 768)} if family == "flux_kontext" else
                           {"prompt_mask": torch.ones(1, text_len, dtype=torch.long)})}
    return adapter, [{"cond": cond(), "chosen": target(), "rejected": target()} for _ in range(batch)]


# -- the two steps -----------------------------------------------------------------------------
def make_steps(adapter, samples, device, dtype, gradient_checkpointing: bool):
    from diffusers.training_utils import cast_training_params
    from peft import LoraConfig

    from edithf.dpo.dpo_trainer import DPOBatch, dpo_step_loss, per_sample_error

    model = adapter.denoiser
    model.requires_grad_(False)
    model.add_adapter(LoraConfig(r=16, lora_alpha=16, init_lora_weights="gaussian",
                                 target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    cast_training_params(model, dtype=torch.float32)  # LoRA trains in fp32
    if gradient_checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    from edithf.dpo.dpo_config import DPOConfig

    schedule = adapter.make_schedule(adapter.resolve(DPOConfig()))
    batch = DPOBatch(adapter, schedule, device, dtype)
    autocast = lambda: torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

    def run(loss_fn):
        inputs = batch(samples, torch.Generator().manual_seed(0))
        with autocast():
            loss = loss_fn(inputs)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    plain = lambda: run(lambda inp: per_sample_error(adapter.predict(model, *inp[:2], inp[3]), inp[2]).mean())
    dpo = lambda: run(lambda inp: dpo_step_loss(adapter, model, model, inp, beta=100.0)[0])
    return plain, dpo


# -- measuring ---------------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(step, device, repeats: int) -> tuple[float, float]:
    """(median seconds, peak extra memory in MB) of `step`."""
    for _ in range(2):
        step()  # warm-up: allocator caches, lazy inits
    times, peaks = [], []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        else:
            base, peak, done = _rss_bytes(), [0], threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], _rss_bytes())
                    time.sleep(0.001)

            sampler = threading.Thread(target=sample)
            sampler.start()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        if device.type == "cuda":
            peaks.append(torch.cuda.max_memory_allocated() - base)
        else:
            done.set()
            sampler.join()
            peaks.append(max(peak[0], _rss_bytes()) - base)
    return statistics.median(times), max(peaks) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--size", default="tiny", choices=["tiny", "realistic"])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--pairs", type=int, default=2, help="B: pairs per step (2B images)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (this machine has 2 shared cores)")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--resolution", type=int, default=512, help="realistic: edit and source side in pixels")
    parser.add_argument("--layers", type=int, default=0, help="realistic: cut transformer depth (0 = real)")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                        help="default: bfloat16 for realistic (weights and autocast), float32 for tiny")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if args.size == "realistic" else "float32"))
    print(f"device={args.device} size={args.size} pairs/step={args.pairs} dtype={str(dtype)[6:]} "
          f"repeats={args.repeats} threads={args.threads} checkpointing={args.gradient_checkpointing}")
    print("| family | plain step (ms) | DPO step (ms) | DPO / plain | plain peak (MB) | DPO peak (MB) |")
    print("|---|---|---|---|---|---|")
    for family in args.families.split(","):
        torch.manual_seed(0)
        if args.size == "realistic":
            adapter, samples = realistic_setup(family, args.pairs, device, args.resolution, args.layers, dtype)
        else:
            adapter, samples = tiny_setup(family, args.pairs, device)
        plain, dpo = make_steps(adapter, samples, device, dtype, args.gradient_checkpointing)
        t_plain, m_plain = measure(plain, device, args.repeats)
        t_dpo, m_dpo = measure(dpo, device, args.repeats)
        print(f"| {family} | {1000 * t_plain:.1f} | {1000 * t_dpo:.1f} | {t_dpo / t_plain:.2f} | "
              f"{m_plain:.1f} | {m_dpo:.1f} |", flush=True)
        del adapter, samples, plain, dpo
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
