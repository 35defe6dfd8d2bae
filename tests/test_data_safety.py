"""`edithf data process` / `data import` never delete what they did not write: an OUT that is
or contains the input is refused, an existing OUT without EditHF's marker is refused, and a
replaced OUT keeps its permissions. Plus the clear messages of empty or broken input."""
from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from edithf.cli import main as cli
from edithf.data.annotations import process_folder
from edithf.data.dataset import OUTPUT_MARKER, load_dataset
from tests.test_dataset import build_raw


@pytest.fixture
def raw(tmp_path):
    return build_raw(tmp_path / "project" / "raw")


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_out_that_contains_the_input_is_refused_and_nothing_is_deleted(raw, tmp_path, capsys):
    project = raw.parent
    (project / "notes.txt").write_text("unrelated work")
    before = _files(project)
    assert cli(["data", "process", str(raw), str(project)]) == 1
    assert "contains the input" in capsys.readouterr().err
    assert _files(project) == before  # the raw input and the unrelated file are still there


def test_out_equal_to_the_input_is_refused(raw, capsys):
    before = _files(raw)
    assert cli(["data", "process", str(raw), str(raw)]) == 1
    assert "is the input" in capsys.readouterr().err
    assert _files(raw) == before


def test_existing_folder_not_written_by_edithf_is_refused(raw, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert cli(["data", "process", str(raw), str(out)]) == 1
    assert "EditHF did not write" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_own_output_is_replaced_and_keeps_its_permissions(raw, tmp_path):
    out = tmp_path / "out"
    process_folder(raw, out)
    assert (out / OUTPUT_MARKER).is_file()
    os.chmod(out, 0o750)
    process_folder(raw, out, seed=4)  # written by EditHF: replaced
    assert load_dataset(out).meta["processing"]["seed"] == 4
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_new_output_gets_the_umask_permissions_not_private(raw, tmp_path):
    old = os.umask(0o022)
    try:
        process_folder(raw, tmp_path / "fresh")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o755  # not mkdtemp's 0700


def test_import_follows_the_same_rules(tmp_path, capsys):
    src = tmp_path / "bench"
    src.mkdir()
    (src / "t.parquet").write_bytes(b"")
    assert cli(["data", "import", "genai-bench", str(src), str(tmp_path)]) == 1
    assert "contains the input" in capsys.readouterr().err
    assert (src / "t.parquet").exists()


def test_all_tables_empty_gives_a_clear_message(tmp_path, capsys):
    root = tmp_path / "empty"
    root.mkdir()
    pd.DataFrame(columns=["edit_id", "group_id", "task", "prompt", "source", "model", "edited"]).to_parquet(
        root / "edits.parquet")
    pd.DataFrame(columns=["edit_id", "annotator", "dimension", "score"]).to_parquet(root / "ratings.parquet")
    for action in (["validate", str(root)], ["process", str(root), str(tmp_path / "out")]):
        assert cli(["data", *action]) == 1
        err = capsys.readouterr().err
        assert "edits.parquet: has no rows" in err and "error: 0" not in err




def test_out_spelled_differently_or_a_symlink_to_the_input_is_refused(raw, tmp_path, capsys):
    """OUT a symlink to RAW, or RAW's parent spelled with `..` or through a symlink: each is the
    folder that holds the input, and nothing is deleted."""
    project = raw.parent
    (tmp_path / "to-raw").symlink_to(raw)
    (tmp_path / "to-project").symlink_to(project)
    before = _files(project)
    for out, said in ((tmp_path / "to-raw", "is the input"), (f"{raw}/..", "contains the input"),
                      (f"{raw}/./../../project/", "contains the input"), (tmp_path / "to-project", "contains the input")):
        assert cli(["data", "process", str(raw), str(out)]) == 1
        assert said in capsys.readouterr().err
    assert _files(project) == before
