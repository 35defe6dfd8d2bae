"""The studio's evaluator leaderboard with `classic` on the demo, from a cold cache: scoring all
512 edits (the one prediction cache, `edithf.predict.cached_predictions`) + the leaderboard
(`edithf.leaderboard.build_leaderboard`, 100 bootstrap rounds as the studio's default).

    python benchmarks/classic_leaderboard.py                         # torch's threads (2 on 2 cores)
    python benchmarks/classic_leaderboard.py --compare-to old.parquet  # + SRCC against older values

`--compare-to`: a predictions table of the demo by another version of `classic` (e.g. written
by `edithf predict <demo> --scorer classic --out old.parquet` at an older commit); prints the
SRCC of quality, preservation and their weighted overall, edit by edit, and of the models'
leaderboard scores. Prints edits/s and seconds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--compare-to", default=None, help="older predictions of the demo by `classic`")
    args = parser.parse_args()

    import torch

    from edithf.data.dataset import load_dataset
    from edithf.demo import ensure_demo
    from edithf.leaderboard import build_leaderboard
    from edithf.metrics import srcc
    from edithf.predict import cached_predictions
    from edithf.utils.io import read_table

    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset(ensure_demo())
    print(f"$ python {' '.join(sys.argv)}")
    print(f"demo: {len(ds.edits)} edits, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        preds = cached_predictions(ds, "classic", cache)
        scored = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the note that alignment is not judged
            board = build_leaderboard(ds.edits, preds, n_bootstrap=args.bootstrap, seed=0)
        total = time.perf_counter() - start
    n = len(preds)
    print(f"classic: scoring {scored:.1f} s ({n / scored:.1f} edits/s); with the leaderboard {total:.1f} s")
    if args.compare_to:
        old = read_table(args.compare_to).set_index("edit_id").loc[preds["edit_id"]]
        new = preds.set_index("edit_id")
        old_overall = (0.3 * old["quality"] + 0.3 * old["preservation"]) / 0.6  # the same two dimensions
        for name, a, b in (("quality", new["quality"], old["quality"]),
                           ("preservation", new["preservation"], old["preservation"]),
                           ("overall (quality, preservation)", new["overall"], old_overall)):
            print(f"  SRCC vs --compare-to, {name}: {srcc(a.to_numpy(), b.to_numpy()):.4f}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            old_board = build_leaderboard(ds.edits, old.assign(alignment=np.nan, overall=old_overall).reset_index(),
                                          n_bootstrap=0)
        a = board.table.set_index("model")["overall"]
        b = old_board.table.set_index("model")["overall"].loc[a.index]
        print(f"  SRCC vs --compare-to, leaderboard overall of the {len(a)} models: {srcc(a.to_numpy(), b.to_numpy()):.4f}")


if __name__ == "__main__":
    main()
