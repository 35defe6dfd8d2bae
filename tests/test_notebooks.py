"""Every notebook runs top to bottom on the demo benchmark and writes its figures; the saved
notebooks carry no outputs and no machine paths."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
MACHINE_PATH = re.compile(r"(/work/|/tmp/|/root/|/home/|[A-Z]:\\\\)")


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"01_leaderboard_analysis", "02_evaluator_validation", "03_annotation_quality"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name} has saved outputs"
        assert not MACHINE_PATH.search("".join(cell["source"])), f"{path.name} mentions a machine path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_demo(path, demo_dataset, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("EDITHF_DEMO_DIR", str(demo_dataset))
    monkeypatch.setenv("EDITHF_PLOTLY_RENDERER", "json")  # keeps executed copies small
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = list((tmp_path / "figures").glob("*.html"))
    assert figures, "the notebook wrote no figure"
    for fig in figures:
        html = fig.read_text()
        assert "plotly" in html and '"data"' in html and len(html) > 10_000, fig.name
