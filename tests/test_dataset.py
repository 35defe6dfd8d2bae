"""The dataset folder: load/validate (errors name table, row, column), csv/jsonl input, atomic
save, split/triples, `process_folder` and the `edithf data` command."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from edithf.cli import main as cli
from edithf.data.annotations import process_dataset, process_folder
from edithf.data.dataset import DatasetError, EditDataset, load_dataset
from edithf.utils.io import write_table

N_GROUPS, N_MODELS, N_RATERS = 6, 4, 7


def build_raw(root, *, fmt="parquet", solo_group=False):
    """A raw dataset folder: 6 groups x 4 models (3 sources, 2 prompts each), 7 raters with
    ratings on every edit, 3 rankers per group; optionally a group with one edit."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    edits = []
    for g in range(N_GROUPS):
        for m in range(N_MODELS if g or not solo_group else 1):
            edits.append({"edit_id": f"g{g}m{m}", "group_id": f"g{g}", "task": "color_change",
                          "prompt": f"prompt {g % 2}", "source": f"images/src{g // 2}.png",
                          "model": f"model{m}", "edited": f"images/g{g}m{m}.png"})
    edits = pd.DataFrame(edits)
    for rel in pd.unique(pd.concat([edits["source"], edits["edited"]])):
        Image.new("RGB", (4, 4), tuple(int(v) for v in rng.integers(0, 255, 3))).save(root / rel)
    quality = rng.normal(size=len(edits))
    ratings = pd.DataFrame([(e, f"r{a}", dim, float(np.clip(3 + q + rng.normal(0, 0.3), 1, 5)))
                            for e, q in zip(edits["edit_id"], quality) for a in range(N_RATERS)
                            for dim in ("quality", "alignment")],
                           columns=["edit_id", "annotator", "dimension", "score"])
    rankings = []
    for g, part in edits.groupby("group_id"):
        for a in range(3):
            noisy = quality[part.index] + rng.normal(0, 0.5, len(part))
            ranks = noisy.argsort()[::-1].argsort() + 1
            rankings += [(g, f"k{a}", dim, e, int(r)) for e, r in zip(part["edit_id"], ranks)
                         for dim in ("quality", "alignment", "preservation")]
    rankings = pd.DataFrame(rankings, columns=["group_id", "annotator", "dimension", "edit_id", "rank"])
    for name, table in (("edits", edits), ("ratings", ratings), ("rankings", rankings)):
        write_table(table, root / f"{name}.{fmt}")
    (root / "dataset.json").write_text(json.dumps({"name": "tiny", "rating_scale": [1, 5]}))
    return root


@pytest.fixture
def raw(tmp_path):
    return build_raw(tmp_path / "raw")


def _rewrite(root, name, change):
    table = pd.read_parquet(root / f"{name}.parquet")
    change(table)
    table.to_parquet(root / f"{name}.parquet", index=False)


def test_load_normalises_types_and_resolves_images(raw):
    ds = load_dataset(raw)
    assert len(ds.edits) == N_GROUPS * N_MODELS and ds.meta["name"] == "tiny" and ds.notes == []
    assert ds.image_path("images/src0.png") == (raw / "images/src0.png").absolute()
    assert pd.api.types.is_string_dtype(ds.edits["edit_id"]) and ds.ratings["score"].dtype == float


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_input_accepted(tmp_path, fmt):
    ds = load_dataset(build_raw(tmp_path / fmt, fmt=fmt))
    assert len(ds.rankings) == N_GROUPS * N_MODELS * 3 * 3
    assert ds.rankings["group_id"].iloc[0] == "g0"


def test_missing_ratings_column_names_missing_and_present(raw):
    _rewrite(raw, "ratings", lambda t: t.drop(columns=["annotator"], inplace=True))
    with pytest.raises(DatasetError) as err:
        load_dataset(raw)
    msg = str(err.value)
    assert err.value.table == "ratings.parquet" and "['annotator']" in msg
    assert "'edit_id', 'dimension', 'score'" in msg  # the columns it has


def test_rank_outside_group_names_row_and_column(raw):
    _rewrite(raw, "rankings", lambda t: t.__setitem__("rank", t["rank"].where(t.index != 17, 9)))
    with pytest.raises(DatasetError) as err:
        load_dataset(raw)
    assert (err.value.table, err.value.row, err.value.column) == ("rankings.parquet", 17, "rank")
    assert "rank 9 is outside 1..4" in str(err.value)


def test_missing_image_file_is_named(raw):
    os.remove(raw / "images/g3m2.png")
    with pytest.raises(DatasetError) as err:
        load_dataset(raw)
    assert str(err.value).startswith("edits.parquet row 14, column 'edited': file images/g3m2.png does not exist")
    assert len(load_dataset(raw, check_images=False).edits) == N_GROUPS * N_MODELS


@pytest.mark.parametrize("table,column,value,words,named", [
    ("ratings", "dimension", "sharpness", "unknown dimension 'sharpness'", "dimension"),
    ("ratings", "score", 7.5, "score 7.5 is outside [1, 5]", "score"),
    ("ratings", "edit_id", "nope", "edit id 'nope' is not in the edits table", "edit_id"),
    ("edits", "edit_id", "g0m0", "duplicate edit id 'g0m0'", "edit_id"),
    ("edits", "split", "holdout", "split 'holdout' is not one of", "split"),
    ("edits", "mos_quality", 120.0, "MOS 120 is outside [0, 100]", "mos_quality"),
    ("edits", "source", "images/src2.png", "has edits of 2 different source images", "source"),
    ("rankings", "edit_id", "g1m0", "edit 'g1m0' belongs to group 'g1' in the edits table, not 'g0'", "group_id"),
])
def test_bad_values_are_errors_naming_row_and_column(raw, table, column, value, words, named):
    def change(t):
        if column not in t:
            t[column] = None if column == "split" else np.nan
        t[column] = t[column].astype(object)
        t.loc[5, column] = value
    _rewrite(raw, table, change)
    with pytest.raises(DatasetError) as err:
        load_dataset(raw)
    assert (err.value.table, err.value.column) == (f"{table}.parquet", named) and err.value.row in (4, 5)
    assert words in str(err.value)


def test_nan_scores_and_flat_annotator_are_reported_not_errors(raw):
    def change(t):
        t.loc[3, "score"] = np.nan
        t.loc[(t["annotator"] == "r6") & (t["dimension"] == "quality"), "score"] = 3.0
    _rewrite(raw, "ratings", change)
    ds = load_dataset(raw)
    assert any("1 rating(s) have no score (NaN), first at row 3" in n for n in ds.notes)
    assert any("r6 (quality)" in n for n in ds.notes)
    processed, report = process_dataset(ds)
    assert report["mos"]["n_nan_dropped"] == 1
    quality = report["mos"]["dimensions"]["quality"]
    # r6's constant 3s are also far from the means of extreme edits, so screening may catch
    # them first; either way r6 is removed and named (the flat path alone: test_annotations)
    removed = quality["flat_annotators_removed"] + [a["annotator"] for a in quality["rejected_annotators"]]
    assert "r6" in removed
    assert processed.edits["mos_quality"].notna().all()


def test_single_edit_group_is_a_reported_skip(tmp_path):
    ds = load_dataset(build_raw(tmp_path / "raw", solo_group=True))
    assert any("1 group(s) hold a single edit" in n for n in ds.notes)
    processed, report = process_dataset(ds)
    assert report["single_edit_groups"]["count"] == 1 and report["single_edit_groups"]["examples"] == ["g0"]
    assert "g0" not in set(processed.pairs["group_id"].astype(str))


def test_process_folder_writes_processed_dataset_and_reports(raw, tmp_path):
    out = tmp_path / "out"
    report = process_folder(raw, out, seed=1)
    ds = load_dataset(out)  # the output validates
    for column in ("mos_quality", "mos_alignment", "rank_quality", "rank_preservation", "split"):
        assert ds.edits[column].notna().all(), column
    assert len(ds.pairs) == report["pairs"]["n_kept"] > 0 and len(ds.ratings) == N_GROUPS * N_MODELS * N_RATERS * 2
    assert json.loads((out / "report.json").read_text())["split"]["seed"] == 1
    assert "# Annotation processing report" in (out / "report.md").read_text()
    assert len(pd.read_parquet(out / "agreement.parquet")) == N_GROUPS * 3
    sources = ds.edits.groupby("source")["split"].nunique()
    assert (sources == 1).all() and set(ds.edits["split"]) == {"train", "val", "test"}
    test = ds.split("test")
    assert set(test.pairs["group_id"].astype(str)) <= set(test.edits["group_id"])
    sources_abs, edited_abs, prompts = test.triples()
    assert all(os.path.isabs(p) and os.path.exists(p) for p in sources_abs + edited_abs)
    assert prompts == test.edits["prompt"].tolist()


def test_save_is_atomic_when_it_fails_midway(raw, tmp_path, monkeypatch):
    ds = load_dataset(raw)
    target = tmp_path / "saved"
    ds.save(target)
    before = sorted(p.name for p in target.iterdir())

    def broken_link(src, dst):  # the disk "fills up" after a few images
        if len(os.listdir(os.path.dirname(dst))) > 3:
            raise KeyboardInterrupt("killed mid-save")
        return real_link(src, dst)
    real_link = os.link
    monkeypatch.setattr(os, "link", broken_link)
    ds.edits = ds.edits.assign(task="changed")
    with pytest.raises(KeyboardInterrupt):
        ds.save(target)
    assert sorted(p.name for p in target.iterdir()) == before  # the old folder, whole
    assert load_dataset(target).edits["task"].eq("color_change").all()
    with pytest.raises(KeyboardInterrupt):
        ds.save(tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw", "saved"]  # no temporary left


def test_save_in_place_keeps_images(raw):
    ds = load_dataset(raw)
    ds.edits = ds.edits.assign(task="renamed")
    ds.save(raw)
    again = load_dataset(raw)  # validates the images too
    assert again.edits["task"].eq("renamed").all()


def test_cli_validate_and_process(raw, tmp_path, capsys):
    assert cli(["data", "validate", str(raw)]) == 0
    assert "valid (24 edits" in capsys.readouterr().out
    assert cli(["data", "process", str(raw), str(tmp_path / "out"), "--seed", "3", "--ratios", "4,2,1"]) == 0
    assert "pairs; split train" in capsys.readouterr().out
    assert EditDataset.load(tmp_path / "out").meta["processing"]["ratios"] == [4, 2, 1]
    os.remove(raw / "images/src1.png")
    assert cli(["data", "validate", str(raw)]) == 1
    assert "column 'source': file images/src1.png does not exist" in capsys.readouterr().err
