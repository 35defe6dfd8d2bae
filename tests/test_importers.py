"""Importers of public benchmark layouts, on tiny files made here in each published schema."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from edithf.data.importers import ImportFormatError, import_benchmark


def png(color, size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def struct(color):
    return {"bytes": png(color), "path": None}


def test_genai_bench(tmp_path):
    rows = []
    for i, vote in enumerate(["leftvote", "rightvote", "tievote", "bothbad_vote"]):
        rows.append(dict(source_prompt="a cat", target_prompt="a dog", instruct_prompt=f"turn the cat into a dog {i}",
                         source_image=struct((i, 0, 0)), left_model="m1", left_output_image=struct((0, i, 0)),
                         right_model="m2", right_output_image=struct((0, 0, i)), vote_type=vote))
    src = tmp_path / "image_edition"
    src.mkdir()
    pd.DataFrame(rows).to_parquet(src / "test_v1-00000-of-00001.parquet")
    out = import_benchmark("genai-bench", tmp_path, tmp_path / "out")
    edits = pd.read_parquet(out / "edits.parquet")
    comps = pd.read_parquet(out / "comparisons.parquet")
    assert len(edits) == 8 and len(comps) == 4
    assert comps.label.tolist() == [1, -1, 0, 0]
    assert comps.vote.tolist()[3] == "bothbad_vote"
    assert all((out / p).is_file() for p in edits.edited)
    meta = json.loads((out / "dataset.json").read_text())
    assert meta["source_format"] == "genai-bench"


def test_genai_bench_bad_vote_and_empty_struct(tmp_path):
    row = dict(source_prompt="", target_prompt="", instruct_prompt="x", source_image=struct((1, 1, 1)),
               left_model="a", left_output_image=struct((2, 2, 2)), right_model="b",
               right_output_image={"bytes": None, "path": "nowhere.png"}, vote_type="leftvote")
    pd.DataFrame([row]).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ImportFormatError, match=r"t.parquet row 0, column 'right_output_image'.*no bytes"):
        import_benchmark("genai-bench", tmp_path / "t.parquet", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written
    row["right_output_image"] = struct((3, 3, 3))
    row["vote_type"] = "leftvot"
    pd.DataFrame([row]).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ImportFormatError, match=r"row 0, column 'vote_type'"):
        import_benchmark("genai-bench", tmp_path / "t.parquet", tmp_path / "out")


def test_missing_column_names_file(tmp_path):
    pd.DataFrame([{"instruct_prompt": "x"}]).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ImportFormatError, match=r"t.parquet: missing column\(s\).*source_image"):
        import_benchmark("genai-bench", tmp_path / "t.parquet", tmp_path / "out")


def _editreward_rows(group, k, rankings, colors):
    rows = []
    for n, ((a, b), ranking) in enumerate(rankings):
        rows.append(dict(id=f"{group}_{n}", instruction="make it red", dataset="magicbrush", ranking=ranking,
                         comparison_type="AvsB", source_image=struct((9, 9, 9)), candidate_1=struct(colors[a]),
                         candidate_2=struct(colors[b]), model_1=f"m{a}", model_2=f"m{b}"))
    return rows


def test_editreward_bench_groups_and_conflicting_duplicates(tmp_path):
    colors = {0: (10, 0, 0), 1: (20, 0, 0), 2: (30, 0, 0)}
    (tmp_path / "2pair").mkdir()
    (tmp_path / "3pair").mkdir()
    two = _editreward_rows("g1", 2, [((0, 1), "A>B")], colors)
    two += [dict(two[0], ranking="B>A")]  # the known defect: same id, opposite ranking
    two += _editreward_rows("g2", 2, [((0, 1), "A=B")], colors)
    pd.DataFrame(two).to_parquet(tmp_path / "2pair" / "train-0.parquet")
    three = _editreward_rows("g3", 3, [((0, 1), "A>B"), ((0, 2), "A>B"), ((1, 2), "B>A")], colors)
    pd.DataFrame(three).to_parquet(tmp_path / "3pair" / "train-0.parquet")
    out = import_benchmark("editreward-bench", tmp_path, tmp_path / "out")
    comps = pd.read_parquet(out / "comparisons.parquet")
    report = json.loads((out / "import_report.json").read_text())
    assert report["conflicting_ids_dropped"] == ["2pair:g1_0"]
    assert len(comps) == 1 + 3  # g2's tie pair + g3's three pairs
    g3 = comps[comps.task == "3pair"]
    assert g3.label.tolist() == [1, 1, -1]
    edits = pd.read_parquet(out / "edits.parquet")
    assert edits[edits.group_id == "3pair-g3"].edit_id.nunique() == 3  # candidates deduplicated by content


def test_editscore_bench(tmp_path):
    rows = [dict(key=["p", "r"], instruction="add a hat", input_image=struct((1, 2, 3)),
                 output_images=[struct((4, 5, 6)), struct((7, 8, 9))], task_type=t, dimension=d)
            for t, d in [("subject-add", "prompt_following"), ("color_alter", "consistency"), ("extract", "overall")]]
    pd.DataFrame(rows).to_parquet(tmp_path / "bench.parquet")
    out = import_benchmark("editscore-bench", tmp_path, tmp_path / "out")
    comps = pd.read_parquet(out / "comparisons.parquet")
    assert comps.dimension.tolist() == ["alignment", "preservation", "overall"]
    assert (comps.label == 1).all()


def test_imagenhub_tsv(tmp_path):
    inputs = pd.DataFrame(dict(img_id=[1, 2], turn_index=[1, 1], source_img=[struct((1, 1, 1)), struct((2, 2, 2))],
                               target_img=[None, None], instruction=["add snow", "make it night"]))
    inputs.to_parquet(tmp_path / "filtered.parquet")
    for k, cells in enumerate([("[1, 1]", "[0.5, 1]"), ("[1, 0.5]", "[0, 1]")]):
        pd.DataFrame({"uid": ["sample_1_1.jpg", "sample_2_1.jpg"], "ModelA": list(cells), "ModelB": ["[0, 0]", "[1, 1]"]}
                     ).to_csv(tmp_path / f"Text-Guided_IE_rater{k + 1}.tsv", sep="\t", index=False)
    for model in ("ModelA", "ModelB"):
        d = tmp_path / "outputs" / model
        d.mkdir(parents=True)
        for uid in ("sample_1_1.jpg",):  # sample_2_1 outputs absent: skipped and reported
            (d / uid).write_bytes(png((5, 5, 5)))
    out = import_benchmark("imagenhub", tmp_path, tmp_path / "out")
    human = pd.read_parquet(out / "human.parquet").set_index("edit_id")
    # ModelA on sample_1_1: rater1 [1,1] -> 1, rater2 [1,0.5] -> sqrt(.5); mean = (1 + 0.7071)/2
    assert human.loc["imagenhub-sample_1_1-ModelA", "human_score"] == pytest.approx((1 + np.sqrt(0.5)) / 2)
    assert human.loc["imagenhub-sample_1_1-ModelB", "human_score"] == 0
    report = json.loads((out / "import_report.json").read_text())
    assert len(report["skipped_missing"]) == 2


def test_imagenhub_bad_cell(tmp_path):
    pd.DataFrame({"uid": ["sample_1_1.jpg"], "ModelA": ["[1; 1]"]}).to_csv(tmp_path / "x_rater1.tsv", sep="\t", index=False)
    with pytest.raises(ImportFormatError, match=r"x_rater1.tsv row 0, column 'ModelA'.*\[SC, PQ\]"):
        import_benchmark("imagenhub", tmp_path, tmp_path / "out")


def test_aurora(tmp_path):
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "input": "in/a1.png", "instruction": "move the cup left", "task": "action"},
        {"id": "a2", "input": "in/a2.png", "instruction": "remove the cup", "task": "removal"}]))
    (tmp_path / "in").mkdir()
    for i in ("a1", "a2"):
        (tmp_path / "in" / f"{i}.png").write_bytes(png((1, 1, 1)))
        for m in ("m1", "m2"):
            (tmp_path / "outputs" / m).mkdir(parents=True, exist_ok=True)
            (tmp_path / "outputs" / m / f"{i}.png").write_bytes(png((2, 2, 2)))
    pd.DataFrame(dict(item_id=["a1", "a1", "a2", "a2"], model=["m1", "m2", "m1", "m2"], score=[1, 2, 2, 2])
                 ).to_csv(tmp_path / "ratings.csv", index=False)
    out = import_benchmark("aurora", tmp_path, tmp_path / "out")
    assert len(pd.read_parquet(out / "edits.parquet")) == 4


def test_edithf1m_column_map_and_report(tmp_path):
    for cat, n, model in [("color", 0, "qwen"), ("color", 0, "flux")]:
        (tmp_path / "source" / cat).mkdir(parents=True, exist_ok=True)
        (tmp_path / "source" / cat / f"{n}.jpg").write_bytes(png((1, 1, 1)))
        (tmp_path / "edited" / model / cat).mkdir(parents=True, exist_ok=True)
        (tmp_path / "edited" / model / cat / f"{n}.jpg").write_bytes(png((3, 3, 3)))
    (tmp_path / "scores").mkdir()
    pd.DataFrame(dict(kind=["color", "color"], id=[0, 0], model=["qwen", "flux"], instruction=["recolour", "recolour"],
                      quality=[50.0, 60.0])).to_csv(tmp_path / "scores" / "test.csv", index=False)
    with pytest.raises(ImportFormatError, match=r"cannot map \['category'\].*pass a column map"):
        import_benchmark("edithf-1m", tmp_path, tmp_path / "out")
    out = import_benchmark("edithf-1m", tmp_path, tmp_path / "out", column_map={"category": "kind"})
    edits = pd.read_parquet(out / "edits.parquet")
    assert edits.split.unique().tolist() == ["test"] and edits.mos_quality.tolist() == [50.0, 60.0]
    report = json.loads((out / "import_report.json").read_text())
    assert "mos_alignment" in report["unmapped_columns"]["test.csv"]
