"""Build time of the synthetic demo benchmark, per stage, with its size.

    .venv/bin/python benchmarks/demo_build.py               # the default build (64 groups)
    .venv/bin/python benchmarks/demo_build.py --groups 400  # the --large build

`cpu` is the process's CPU time in the stage: other processes sharing the cores inflate `wall`,
not `cpu`. Stages: loading the photographs, editing (all models on every group, truth, PNGs),
the simulated panel, the annotation processing (`edithf.data.annotations.process_folder`).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=None, help="number of groups (default: the demo's 64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from edithf.demo import build_demo, summary

    starts: list[tuple[str, float, float]] = []  # (stage, wall, cpu) when it began

    def progress(fraction: float, message: str) -> None:
        name = "editing" if message.startswith("edit") else message.split(" ")[0]
        if not starts or starts[-1][0] != name:
            starts.append((name, time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as tmp:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        path = build_demo(Path(tmp) / "demo", seed=args.seed, n_groups=args.groups, progress=progress)
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(summary(path))
        print(f"  folder size {size / 1e6:.1f} MB")
    print(f"{'stage':<12} {'wall s':>8} {'cpu s':>8}")
    for (name, wall, cpu), (_, wall_next, cpu_next) in zip(starts, starts[1:]):
        print(f"{name:<12} {wall_next - wall:8.2f} {cpu_next - cpu:8.2f}")
    print(f"{'total':<12} {starts[-1][1] - wall0:8.2f} {starts[-1][2] - cpu0:8.2f}")


if __name__ == "__main__":
    main()
