"""benchmarks/train_demo.py's summary: no baselines, and metrics a scorer cannot give, print as text."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from edithf.data.schema import DIMENSIONS

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "train_demo.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_demo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(**extra):
    trained = {f"srcc_{d}": 0.5 for d in DIMENSIONS}
    untrained = {**{f"srcc_{d}": 0.1 for d in DIMENSIONS}, "srcc_alignment": math.nan}  # constant predictions
    return {"EditHF untrained": untrained, **extra, "EditHF trained": trained}


def test_summary_without_baselines_and_with_missing_metrics():
    demo = load_script()
    lines = demo.comparisons(rows(), DIMENSIONS)  # `--baselines ""`: no classic row at all
    assert lines == ["trained - untrained SRCC: quality +0.400, alignment n/a, preservation +0.400"]
    with_classic = rows(**{"psnr (classic)": {"srcc_alignment": math.nan}, "classic (combined)": {"srcc_alignment": 0.2}})
    assert demo.comparisons(with_classic, DIMENSIONS)[1] == "alignment SRCC: trained 0.500 vs best classic 0.200"
    text = demo.table(rows())
    assert "nan" not in text.lower() and "n/a" in text
