"""Studio latency: time to the first page, a Score request, the Leaderboard at demo size and at
100K edits. Prints the figures (docs/studio.md keeps them with the machine they came from).

    .venv/bin/python benchmarks/studio_latency.py [--edits 100000] [--repeats 5]

1. process start -> first page served: `python app.py` in a fresh process, with an empty demo
   folder (the fresh-machine case: the page is served while the demo builds in the background),
   then the time until the demo is ready;
2. a Score request with the `classic` scorer (through gradio_client, warm);
3. the Leaderboard request (human leaderboard, 100 bootstrap rounds) on the demo and on a
   synthesized edits table of N edits (mos/rank columns; every row points at one tiny image,
   the leaderboard reads no image): cold (load + build), then a change of dimension (cached
   build) and a 5-model filter (the rows of the cached build: ratings are fitted on all models).
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_page(tmp: Path) -> tuple[float, float]:
    """Seconds from process start to the first 200 on /, and to 'demo ready' in the log."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "EDITHF_DEMO_DIR": str(tmp / "demo"),
           "EDITHF_RUNS_DIR": str(tmp / "runs"), "EDITHF_CACHE_DIR": str(tmp / "cache")}
    log = (tmp / "app.log").open("w")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=tmp)
    page = ready = float("nan")
    try:
        while time.perf_counter() - start < 600:
            if page != page:  # nan: not served yet
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        if r.status == 200:
                            page = time.perf_counter() - start
                except OSError:
                    pass
            if "ready:" in (tmp / "app.log").read_text():
                ready = time.perf_counter() - start
            if page == page and ready == ready:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    return page, ready


def synth_dataset(folder: Path, n_edits: int, n_models: int = 23, n_tasks: int = 11, seed: int = 0) -> Path:
    """An edits table of n_edits rows in groups of n_models (one edit per model), with MOS and
    averaged ranks, all rows pointing at one small image."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (90, 120, 150)).save(folder / "images" / "x.png")
    n_groups = n_edits // n_models
    group = np.repeat(np.arange(n_groups), n_models)
    model = np.tile(np.arange(n_models), n_groups)
    skill = np.linspace(-1, 1, n_models)
    df = pd.DataFrame({
        "edit_id": [f"e{i}" for i in range(len(group))], "group_id": [f"g{g}" for g in group],
        "task": [f"task{g % n_tasks}" for g in group], "prompt": "synthetic", "source": "images/x.png",
        "model": [f"model{m:02d}" for m in model], "edited": "images/x.png",
    })
    for d in ("quality", "alignment", "preservation"):
        mos = np.clip(50 + 15 * skill[model] + rng.normal(0, 15, len(df)), 0, 100)
        df[f"mos_{d}"] = mos
        df[f"rank_{d}"] = pd.Series(-mos).groupby(group).rank(method="average").to_numpy()
    df.to_parquet(folder / "edits.parquet", index=False)
    return folder


def timed(fn, repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def studio_client(dataset: Path, tmp: Path, scorer: str = "classic"):
    from gradio_client import Client

    from studio.app import build_studio, launch_studio
    from studio.state import Settings

    demo = build_studio(Settings(dataset=str(dataset), scorer=scorer, runs_dir=tmp / "runs", cache_dir=tmp / "cache"))
    _, url, _ = launch_studio(demo, prevent_thread_lock=True, quiet=True)
    return demo, Client(url, verbose=False)


def leaderboard_figures(client, models: list[str]) -> dict[str, float]:
    cols = ["quality", "alignment", "preservation", "overall"]  # the ratings on every dimension
    return {
        "cold": timed(lambda: client.predict("model", [], [], "overall", "", cols, api_name="/leaderboard")),
        "change dimension": timed(lambda: client.predict("model", [], [], "alignment", "", cols, api_name="/leaderboard"), 3),
        "filter 5 models": timed(lambda: client.predict("model", [], models[:5], "overall", "", cols,
                                                        api_name="/leaderboard")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from gradio_client import handle_file

    from edithf.data.dataset import load_dataset
    from edithf.demo import ensure_demo

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "fresh").mkdir()
        page, ready = first_page(tmp / "fresh")
        print(f"first page served (fresh machine, demo building): {page:.1f} s; demo ready: {ready:.1f} s")

        demo_path = ensure_demo()
        ds = load_dataset(demo_path)
        demo, client = studio_client(demo_path, tmp / "a")
        row = ds.edits.iloc[0]
        src, edited = handle_file(str(ds.image_path(row["source"]))), handle_file(str(ds.image_path(row["edited"])))
        score = lambda: client.predict(src, edited, row["prompt"], "classic", api_name="/score")  # noqa: E731
        first = timed(score)
        warm = timed(score, args.repeats)
        print(f"Score request (classic): first {first:.2f} s (builds the scorer), then median {warm:.3f} s")
        lb = leaderboard_figures(client, sorted(ds.edits["model"].unique()))
        print(f"Leaderboard, demo ({len(ds.edits)} edits): " + ", ".join(f"{k} {v:.2f} s" for k, v in lb.items()))
        client.close()
        demo.close()

        big = synth_dataset(tmp / "big", args.edits)
        demo, client = studio_client(big, tmp / "b")
        lb = leaderboard_figures(client, [f"model{m:02d}" for m in range(23)])
        print(f"Leaderboard, {args.edits:,} edits (23 models): " + ", ".join(f"{k} {v:.2f} s" for k, v in lb.items()))
        client.close()
        demo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
