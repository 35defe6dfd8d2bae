"""Throughput of the head-based EditHF scorer (one-by-one and group-shared) vs generative judges.

Inputs: the first --groups groups of the demo benchmark (8 edits of one source under one
instruction each; `edithf demo ensure` builds it once), or --inputs random (8 random edits of
one random source per group, for sizes where the demo's content does not matter).

Modes, each in its own process so that peak memory is its own (CPU: peak RSS; CUDA: max allocated):
- head:     EditHFModel, one forward pass scores all three dimensions; every edit sends its whole
            prompt (batches of --batch edits, groups mixed as they come);
- shared:   the same model, per group: instruction + source once (vision features and the key/value
            cache of that prefix), then the edited images in batches of --batch (score_group);
- generate: the same backbone (LoRA included) writes --new-tokens tokens per dimension, three
            dimensions, as a short generative judge answers;
- reason:   the same, --reason-tokens per dimension, as a judge that reasons before its score
            (EditScore- and VIEScore-style prompts make hundreds of tokens).

    python benchmarks/scoring_throughput.py                                  # tiny internvl, CPU
    python benchmarks/scoring_throughput.py --size tiny-qwen2_vl@demo
    python benchmarks/scoring_throughput.py --size internvl-1b --batch 2 --repeats 1 --groups 1 --warmup 0 --modes head,shared
    python benchmarks/scoring_throughput.py --size internvl-8b --device cuda --batch 8

internvl-1b / internvl-8b build random weights at the real InternVL3.5 architecture sizes from a
config (no download): InternViT-300M (448 px, 256 tokens per image) + Qwen3-0.6B / Qwen3-8B, with
the tiny `demo` tokenizer (whole words for common English, so prompts have realistic lengths).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SIZES = ("tiny-internvl", "tiny-qwen2_vl", "tiny-internvl@demo", "tiny-qwen2_vl@demo", "internvl-1b", "internvl-8b",
         "internvl-mini")
MODES = ("head", "shared", "generate", "reason")
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

    processor = make_tiny_processor("internvl", "demo")  # the tiny tokenizer's ids fit in the real vocabulary
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
    """n random (source, edited, prompt) triples of 640x480 images, one prompt each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    imgs = [Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)) for _ in range(2 * n)]
    prompts = [f"replace the sky with a sunset, variant {i}" for i in range(n)]
    return imgs[:n], imgs[n:], prompts


def groups(kind: str, n_groups: int) -> list[tuple]:
    """[(source, [8 edited], prompt)] from the demo benchmark's first groups, or random ones."""
    if kind == "random":
        sources, edited, prompts = inputs(8 * n_groups)
        return [(sources[8 * g], edited[8 * g:8 * g + 8], prompts[8 * g]) for g in range(n_groups)]
    from edithf.data.dataset import load_dataset
    from edithf.data.images import load_image
    from edithf.demo import ensure_demo

    ds = load_dataset(ensure_demo())
    out = []
    for _, rows in list(ds.edits.groupby("group_id", sort=False))[:n_groups]:
        root = str(ds.root) + "/"
        out.append((load_image(root + rows["source"].iloc[0]), [load_image(root + e) for e in rows["edited"]],
                    rows["prompt"].iloc[0]))
    return out


def head_based(model, sources, edited, prompts):
    model.score(sources, edited, prompts)


def one_by_one(model, data, batch: int):
    """Every edit with its whole prompt, batches of `batch` edits across groups."""
    flat = [(src, e, p) for src, eds, p in data for e in eds]
    for i in range(0, len(flat), batch):
        head_based(model, *map(list, zip(*flat[i:i + batch])))


def shared(model, data, batch: int):
    for src, eds, prompt in data:
        model.score_group(src, eds, prompt, batch_size=batch)


def generative(model, sources, edited, prompts, new_tokens: int):
    """Three generated judgements (one per dimension) with the same backbone."""
    import torch

    from edithf.models import backbones, families

    gen = model.backbone.get_base_model()
    for dim in model.cfg.dimensions:
        users = [f"Instruction: {p}\nRate the {dim} of the edited image from 0 to 100 and explain briefly."
                 for p in prompts]
        texts = families.chat_texts(model.processor, users)
        batch = backbones.encode_images_and_text(model.processor, model.adapter, model.cfg, sources, edited, texts)
        batch = backbones.to_model(batch, gen)
        with torch.no_grad():
            gen.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)


def judged(model, data, batch: int, new_tokens: int):
    flat = [(src, e, p) for src, eds, p in data for e in eds]
    for i in range(0, len(flat), batch):
        generative(model, *map(list, zip(*flat[i:i + batch])), new_tokens)


def run_mode(args) -> dict:
    import resource

    import torch

    torch.set_num_threads(args.threads)
    model = build(args.size, args.device).eval()
    data = groups(args.inputs, args.groups)
    fn = {"head": lambda d: one_by_one(model, d, args.batch), "shared": lambda d: shared(model, d, args.batch),
          "generate": lambda d: judged(model, d, args.batch, args.new_tokens),
          "reason": lambda d: judged(model, d, args.batch, args.reason_tokens)}[args.mode]
    if args.warmup:
        src, eds, prompt = data[0]
        fn([(src, eds[:args.batch], prompt)])  # warm-up: one batch
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(args.repeats):
        fn(data)
    if args.device == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / args.repeats
    n = sum(len(eds) for _, eds, _ in data)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"mode": args.mode, "edits": n, "edits_per_s": n / seconds, "seconds": seconds, "peak_mib": peak}


LABELS = {"head": "head, one-by-one prompts", "shared": "head, group-shared prefix",
          "generate": "judge, {new} tokens/dim", "reason": "judge, {reason} tokens/dim"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=SIZES, default="tiny-internvl")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--batch", type=int, default=8, help="edits per forward pass")
    p.add_argument("--groups", type=int, default=4, help="8-edit groups scored per repeat")
    p.add_argument("--inputs", choices=["demo", "random"], default="demo")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--new-tokens", type=int, default=24, help="generated tokens per dimension (short judge)")
    p.add_argument("--reason-tokens", type=int, default=300, help="generated tokens per dimension (reasoning judge)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1, choices=[0, 1], help="one untimed batch first (0: skip, for slow CPU runs)")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {MODES}")
    p.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # one mode, in a child process
    args = p.parse_args(argv)
    if args.mode:
        print(json.dumps(run_mode(args)))
        return 0
    modes = [m for m in args.modes.split(",") if m]
    if set(modes) - set(MODES):
        p.error(f"--modes: unknown {sorted(set(modes) - set(MODES))}; use {MODES}")
    base = list(sys.argv[1:] if argv is None else argv)
    results = {}
    for mode in modes:  # separate processes: each peak memory is its own
        out = subprocess.run([sys.executable, __file__, *base, "--mode", mode], check=True, capture_output=True,
                             text=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"size={args.size} device={args.device} inputs={args.inputs} groups={args.groups} (8 edits each) "
          f"batch={args.batch} repeats={args.repeats} warmup={args.warmup} threads={args.threads}")
    print(f"{'scorer':<30}{'edits/s':>10}{'s/repeat':>10}{'peak MiB':>10}")
    for mode, r in results.items():
        label = LABELS[mode].format(new=args.new_tokens, reason=args.reason_tokens)
        print(f"{label:<30}{r['edits_per_s']:>10.2f}{r['seconds']:>10.2f}{r['peak_mib']:>10.0f}")
    for a, b in (("shared", "head"), ("head", "generate"), ("head", "reason"), ("shared", "reason")):
        if a in results and b in results:
            print(f"{LABELS[a].format(new=args.new_tokens, reason=args.reason_tokens)} / "
                  f"{LABELS[b].format(new=args.new_tokens, reason=args.reason_tokens)}: "
                  f"{results[a]['edits_per_s'] / results[b]['edits_per_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
