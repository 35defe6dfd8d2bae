"""Throughput of the offline scorers (dummy, classic and each classic metric) on CPU.

    python benchmarks/offline_scorers.py                    # 32 pairs of 512x512 photos, batch 8
    python benchmarks/offline_scorers.py --n 64 --image 1024 --threads 4 --scorers classic,ssim

Pairs are crops of scikit-image photos and a tinted copy (a local edit, a different tint for
every pair, so no two pairs are alike). Prints edits per second per scorer: a warm-up batch on
one scorer (imports not counted), then a fresh scorer times all pairs (its (source, edit)
cache starts empty). `benchmarks/classic_leaderboard.py` times `classic` on the demo.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image


def make_pairs(n: int, size: int):
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    sources, edits = [], []
    for i in range(n):
        src = Image.fromarray(photos[i % len(photos)]).resize((size, size))
        arr = np.asarray(src).copy()
        q = size // 4
        strength = 0.3 + 0.6 * i / max(1, n - 1)
        tint = arr[q:3 * q, q:3 * q] * (1 - strength) + np.array([200, 40, 40]) * strength
        arr[q:3 * q, q:3 * q] = tint.astype(np.uint8)
        sources.append(src)
        edits.append(Image.fromarray(arr))
    return sources, edits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--image", type=int, default=512, help="side of the input images")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--scorers", default="dummy,classic,psnr,ssim,ms_ssim,vif,gmsd,nr_stats")
    args = parser.parse_args()

    import torch

    from edithf.evaluators.registry import create_evaluator

    if args.threads:
        torch.set_num_threads(args.threads)
    sources, edits = make_pairs(args.n, args.image)
    prompts = ["tint the centre red"] * args.n
    print(f"{args.n} pairs of {args.image}x{args.image}, batch {args.batch}, torch threads {torch.get_num_threads()}")
    for name in args.scorers.split(","):
        create_evaluator(name).score(sources[:args.batch], edits[:args.batch], prompts[:args.batch],
                                     batch_size=args.batch)  # warm-up
        ev = create_evaluator(name)  # an empty cache
        start = time.perf_counter()
        ev.score(sources, edits, prompts, batch_size=args.batch)
        seconds = time.perf_counter() - start
        print(f"  {name:<10} {args.n / seconds:8.1f} edits/s  ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
