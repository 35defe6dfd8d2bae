"""Throughput of the head-based EditHF scorer vs a generative judgement on the same backbone.

Head-based: one forward pass scores all three dimensions (EditHFModel). Generative: the same
backbone (LoRA included) writes a judgement the way generative judges answer, `generate` of
--new-tokens tokens per dimension, three dimensions. Same batch of inputs for both. Each mode
runs in its own process so that peak memory is its own (CPU: peak RSS; CUDA: max allocated).

    python benchmarks/scoring_throughput.py                       # tiny internvl, CPU
    python benchmarks/scoring_throughput.py --size tiny-qwen2_vl
    python benchmarks/scoring_throughput.py --size internvl-1b --device cuda --batch 16
    python benchmarks/scoring_throughput.py --size internvl-8b --device cuda

internvl-1b / internvl-8b build random weights at the real InternVL3.5 architecture sizes from a
config (no download): InternViT-300M (448 px, 256 tokens per image) + Qwen3-0.6B / Qwen3-8B.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SIZES = ("tiny-internvl", "tiny-qwen2_vl", "internvl-1b", "internvl-8b", "internvl-mini")
# Qwen3 text towers of InternVL3.5-1B and -8B; internvl-mini runs the same code path at toy size (tests)
TEXT = {
    "internvl-mini": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                          num_key_value_heads=2, head_dim=16),
    "internvl-1b": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                        num_key_value_heads=8, head_dim=128),
    "internvl-8b": dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                        num_key_value_heads=8, head_dim=128),
}
VISION_300M = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                   image_size=[448, 448], patch_size=[14, 14])
VISION_MINI = dict(VISION_300M, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)


def build(size: str, device: str):
    import torch

    from edithf.models import backbones
    from edithf.models.edithf_config import EditHFConfig
    from edithf.models.edithf_model import EditHFModel

    if size.startswith("tiny-"):
        return EditHFModel.from_config(EditHFConfig(backbone=f"tiny:{size[5:]}"), device=device)
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    from edithf.models.tiny import make_tiny_processor

    processor = make_tiny_processor("internvl")  # the tiny tokenizer's ids fit in the real vocabulary
    processor.image_processor.size = {"height": 448, "width": 448}
    processor.image_seq_length = 256  # (448 / 14)^2 * 0.5^2
    tok = processor.tokenizer
    text = dict(TEXT[size], model_type="qwen3", vocab_size=151936, bos_token_id=None,
                eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"), pad_token_id=tok.pad_token_id)
    vision = VISION_MINI if size == "internvl-mini" else VISION_300M
    config = InternVLConfig(text_config=text, vision_config=vision, image_seq_length=256,
                            image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), downsample_ratio=0.5)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with torch.device(device):
        torch.set_default_dtype(dtype)
        base = InternVLForConditionalGeneration(config).eval()
        torch.set_default_dtype(torch.float32)
    cfg = EditHFConfig(backbone="tiny:internvl", family="internvl")  # tiny processor: no size override
    model = EditHFModel(cfg, backbones.add_lora(base, cfg), processor, "internvl")
    return model.to(device)


def inputs(n: int):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(2 * n)]
    prompts = [f"replace the sky with a sunset, variant {i}" for i in range(n)]
    return imgs[:n], imgs[n:], prompts


def head_based(model, sources, edited, prompts):
    model.score(sources, edited, prompts)


def generative(model, sources, edited, prompts, new_tokens: int):
    """Three generated judgements (one per dimension) with the same backbone."""
    import torch

    from edithf.models import backbones

    gen = model.backbone.get_base_model()
    for dim in model.cfg.dimensions:
        users = [f"Instruction: {p}\nRate the {dim} of the edited image from 0 to 100 and explain briefly."
                 for p in prompts]
        texts = backbones.chat_texts(model.processor, users)
        batch = backbones.encode_images_and_text(model.processor, model.adapter, model.cfg, sources, edited, texts)
        batch = backbones.to_model(batch, gen)
        with torch.no_grad():
            gen.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)


def run_mode(args) -> dict:
    import resource

    import torch

    torch.set_num_threads(args.threads)
    model = build(args.size, args.device).eval()
    sources, edited, prompts = inputs(args.batch)
    fn = (lambda: head_based(model, sources, edited, prompts)) if args.mode == "head" else (
        lambda: generative(model, sources, edited, prompts, args.new_tokens))
    fn()  # warm-up
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.repeats):
        fn()
    if args.device == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.repeats
    peak = (torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"mode": args.mode, "edits_per_s": args.batch / seconds, "seconds_per_batch": seconds, "peak_mib": peak}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=SIZES, default="tiny-internvl")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--new-tokens", type=int, default=24, help="generated tokens per dimension (generative judge)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mode", choices=["head", "generate", "both"], default="both")
    args = p.parse_args(argv)
    if args.mode != "both":
        print(json.dumps(run_mode(args)))
        return 0
    results = {}
    for mode in ("head", "generate"):  # separate processes: each peak memory is its own
        cmd = [sys.executable, __file__, *sys.argv[1:], "--mode", mode] if argv is None else [
            sys.executable, __file__, *argv, "--mode", mode]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
    h, g = results["head"], results["generate"]
    print(f"size={args.size} device={args.device} batch={args.batch} new_tokens/dim={args.new_tokens}")
    print(f"{'scorer':<28}{'edits/s':>10}{'s/batch':>10}{'peak MiB':>10}")
    print(f"{'head (1 pass, 3 dims)':<28}{h['edits_per_s']:>10.2f}{h['seconds_per_batch']:>10.3f}{h['peak_mib']:>10.0f}")
    print(f"{'generative (3 x generate)':<28}{g['edits_per_s']:>10.2f}{g['seconds_per_batch']:>10.3f}{g['peak_mib']:>10.0f}")
    print(f"speed-up: {h['edits_per_s'] / g['edits_per_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
