"""Importers of public benchmark layouts, on tiny files made here in each published schema."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from edithf.public import ImportFormatError, import_benchmark


def png(color, size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def struct(color):
    return {"bytes": png(color), "path": None}


def assert_evaluates(fmt, folder):
    """The benchmark's record wires its protocol to the imported folder: `edithf eval` runs."""
    from edithf.public import BENCHMARKS, evaluate_benchmark

    result = evaluate_benchmark("dummy", fmt, folder)
    assert result["headline_metric"] == BENCHMARKS[fmt].headline in result["metrics"]
    assert isinstance(result["headline"], float)


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
    assert_evaluates("genai-bench", out)
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
    assert_evaluates("editreward-bench", out)
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
    assert_evaluates("editscore-bench", out)
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
    assert_evaluates("imagenhub", out)
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
    assert_evaluates("aurora", out)


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
    assert_evaluates("edithf-1m", out)
    edits = pd.read_parquet(out / "edits.parquet")
    assert edits.split.unique().tolist() == ["test"] and edits.mos_quality.tolist() == [50.0, 60.0]
    report = json.loads((out / "import_report.json").read_text())
    assert "mos_alignment" in report["unmapped_columns"]["test.csv"]


# --------------------------------------------------------------- real layouts of the peers
def _genai_parquet(path, votes):
    rows = [dict(source_prompt="a cat", target_prompt="a dog", instruct_prompt=f"turn the cat into a dog {i}",
                 source_image=struct((i, 0, 0)), left_model="m1", left_output_image=struct((0, i, 0)),
                 right_model="m2", right_output_image=struct((0, 0, i)), vote_type=v) for i, v in enumerate(votes)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)
    return rows


def _genai_results(path, rows, human_votes):
    """GenAI-Bench's own results/image_edition/<judge>/pairwise.jsonl (fields as published)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(dict(idx=i, source_prompt=r["source_prompt"], target_prompt=r["target_prompt"],
                                              instruct_prompt=r["instruct_prompt"], response="...", model_vote="[[A>B]]",
                                              human_vote=v, correct=v == "leftvote"))
                              for i, (r, v) in enumerate(zip(rows, human_votes))) + "\n")


def test_genai_bench_result_files_import_with_the_parquet(tmp_path):
    votes = ["leftvote", "bothbad_vote", "rightvote"]
    rows = _genai_parquet(tmp_path / "GenAI-Bench" / "image_edition" / "test_v1-00000-of-00001.parquet", votes)
    for judge in ("gpt4o", "random"):
        _genai_results(tmp_path / "GenAI-Bench" / "results" / "image_edition" / judge / "pairwise.jsonl", rows, votes)
    out = import_benchmark("genai-bench", tmp_path / "GenAI-Bench", tmp_path / "out")
    assert pd.read_parquet(out / "comparisons.parquet").vote.tolist() == votes
    assert json.loads((out / "import_report.json").read_text())["result_files_checked"] == 2


def test_genai_bench_result_file_of_another_test_set_is_refused(tmp_path):
    rows = _genai_parquet(tmp_path / "g" / "image_edition" / "test.parquet", ["leftvote", "tievote"])
    _genai_results(tmp_path / "g" / "results" / "image_edition" / "gpt4o" / "pairwise.jsonl", rows,
                   ["leftvote", "rightvote"])
    with pytest.raises(ImportFormatError, match="human_vote of idx 1 is 'rightvote'"):
        import_benchmark("genai-bench", tmp_path / "g", tmp_path / "out")
    only_results = tmp_path / "r"
    _genai_results(only_results / "results" / "image_edition" / "gpt4o" / "pairwise.jsonl", rows, ["leftvote"] * 2)
    with pytest.raises(ImportFormatError, match="carry no images"):
        import_benchmark("genai-bench", only_results, tmp_path / "out")


def test_editreward_pairs_json_path1_preferred(tmp_path):
    images = tmp_path / "GenAI-Bench" / "image_edition" / "images"
    images.mkdir(parents=True)
    for name, color in [("s_src", 1), ("a_out", 2), ("b_out", 3), ("c_out", 4)]:
        (images / f"{name}.jpg").write_bytes(png((color, color, color)))
    rel = "GenAI-Bench/image_edition/images"
    pairs = [dict(prompt="add sheep", choice_dist=None, confidence=None, path_src=f"{rel}/s_src.jpg",
                  path1=f"{rel}/{a}_out.jpg", path2=f"{rel}/{b}_out.jpg", model1=a, model2=b,
                  model1_dim1_score=4, model2_dim1_score=2) for a, b in [("a", "b"), ("c", "a")]]
    (tmp_path / "valid_dataset_1.json").write_text(json.dumps(pairs, indent=4))
    out = import_benchmark("editreward-pairs", tmp_path / "valid_dataset_1.json", tmp_path / "out")
    assert_evaluates("editreward-pairs", out)
    comps = pd.read_parquet(out / "comparisons.parquet")
    edits = pd.read_parquet(out / "edits.parquet").set_index("edit_id")
    assert (comps.label == 1).all() and len(edits) == 3  # the shared output "a" is one edit
    assert edits.loc[comps.edit_a, "model"].tolist() == ["a", "c"]
    assert edits.loc[comps.edit_b, "model"].tolist() == ["b", "a"]


def test_editreward_bench_letters_beyond_a_and_b(tmp_path):
    colors = {0: (10, 0, 0), 1: (20, 0, 0), 2: (30, 0, 0), 3: (40, 0, 0)}
    letters = "ABCD"
    rows = []
    for n, ((a, b), ranking) in enumerate([((0, 1), "B>A"), ((0, 2), "A>C"), ((1, 2), "C>B"), ((0, 3), "D>A"),
                                           ((1, 3), "B<D"), ((2, 3), "C>D")]):
        rows.append(dict(id=f"g4_{n}", instruction="make it red", dataset="4pair", ranking=ranking,
                         comparison_type=f"{letters[a]}vs{letters[b]}", source_image=struct((9, 9, 9)),
                         candidate_1=struct(colors[a]), candidate_2=struct(colors[b]), model_1=f"m{a}", model_2=f"m{b}"))
    (tmp_path / "4pair").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "4pair" / "train-0.parquet")
    two = [dict(rows[0], id="g2_0", ranking="A=B=Good", comparison_type="AvsB")]
    (tmp_path / "2pair").mkdir()
    pd.DataFrame(two).to_parquet(tmp_path / "2pair" / "train-0.parquet")
    out = import_benchmark("editreward-bench", tmp_path, tmp_path / "out")
    comps = pd.read_parquet(out / "comparisons.parquet").set_index("comparison_id")
    assert comps.loc[[f"4pair:g4_{n}" for n in range(6)], "label"].tolist() == [-1, 1, -1, -1, -1, 1]
    assert comps.loc["2pair:g2_0", "label"] == 0
    bad = [dict(rows[1], ranking="A>B")]  # a ranking that is not about this row's candidates (A and C)
    pd.DataFrame(bad).to_parquet(tmp_path / "4pair" / "train-0.parquet")
    with pytest.raises(ImportFormatError, match=r"does not compare the row's candidates A and C"):
        import_benchmark("editreward-bench", tmp_path / "4pair", tmp_path / "out2")


def test_aurora_test_json_with_some_ids(tmp_path):
    """The published test.json: only some items carry an `id`; ids are strings, items without
    one are keyed by their position."""
    items = [{"input": f"in/{k}.png", "instruction": f"edit {k}", "task": "action"} for k in range(4)]
    items[1]["id"] = "31"
    items[3]["id"] = 7
    (tmp_path / "test.json").write_text(json.dumps(items))
    (tmp_path / "in").mkdir()
    keys = ["0", "31", "2", "7"]
    for k, key in enumerate(keys):
        (tmp_path / "in" / f"{k}.png").write_bytes(png((k, 1, 1)))
        (tmp_path / "outputs" / "m1").mkdir(parents=True, exist_ok=True)
        (tmp_path / "outputs" / "m1" / f"{key}.png").write_bytes(png((k, 2, 2)))
    pd.DataFrame(dict(item_id=keys, model="m1", score=[1, 2, 3, 4])).to_csv(tmp_path / "ratings.csv", index=False)
    out = import_benchmark("aurora", tmp_path, tmp_path / "out")
    edits = pd.read_parquet(out / "edits.parquet").set_index("edit_id")
    human = pd.read_parquet(out / "human.parquet").set_index("edit_id")
    assert human.loc["aurora-31-m1", "human_score"] == 2 and human.loc["aurora-2-m1", "human_score"] == 3
    assert edits.loc["aurora-7-m1", "prompt"] == "edit 3"


def _truncated_png() -> bytes:
    data = png((5, 5, 5), size=(64, 64))
    return data[: len(data) // 2]


def _huge_png_header(side=8000) -> bytes:
    """A PNG whose header claims side x side pixels (64 MP); refused before decoding."""
    import struct as st
    import zlib

    data = bytearray(png((1, 1, 1), size=(1, 1)))
    ihdr = data[12:29]
    ihdr[4:12] = st.pack(">II", side, side)
    data[12:29] = ihdr
    data[29:33] = st.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


@pytest.mark.parametrize("image, words", [(_truncated_png(), "truncated or corrupt"), (_huge_png_header(), "64 MP")])
def test_importers_refuse_what_score_refuses(tmp_path, image, words):
    row = dict(source_prompt="", target_prompt="", instruct_prompt="x", source_image=struct((1, 1, 1)),
               left_model="a", left_output_image={"bytes": image, "path": None}, right_model="b",
               right_output_image=struct((3, 3, 3)), vote_type="leftvote")
    pd.DataFrame([row]).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(ImportFormatError, match=rf"row 0, column 'left_output_image'.*{words}"):
        import_benchmark("genai-bench", tmp_path / "t.parquet", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _edithf1m(root, rows, category="category"):
    for cat, n, model in {(r[category], r["id"], r["model"]) for r in rows}:
        (root / "source" / cat).mkdir(parents=True, exist_ok=True)
        (root / "source" / cat / f"{n}.jpg").write_bytes(png((1, 1, 1)))
        (root / "edited" / model / cat).mkdir(parents=True, exist_ok=True)
        (root / "edited" / model / cat / f"{n}.jpg").write_bytes(png((3, 3, 3)))
    (root / "scores").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(root / "scores" / "test.csv", index=False)


@pytest.mark.parametrize("rows, words", [
    ([dict(category="color", id=0, model="qwen", quality=50.0)] * 2, "duplicate edit id 'color-0-qwen'"),
    ([dict(category="color", id=0, model="qwen", quality=150.0)], "MOS 150 is outside"),
])
def test_edithf1m_import_that_validation_rejects_fails(tmp_path, rows, words):
    _edithf1m(tmp_path / "release", rows)
    with pytest.raises(ImportFormatError, match=rf"would not be valid.*{words}"):
        import_benchmark("edithf-1m", tmp_path / "release", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_edithf1m_relative_src_and_the_map_option(tmp_path, monkeypatch, capsys):
    from edithf.cli import main

    _edithf1m(tmp_path / "release", [dict(kind="color", id=0, model="qwen", quality=50.0)], category="kind")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "import", "edithf-1m", "release", "out"]) == 1
    assert "--map category=<column>" in capsys.readouterr().err  # the option the error suggests exists
    assert main(["data", "import", "edithf-1m", "release", "out", "--map", "category=kind"]) == 0  # relative SRC
    assert pd.read_parquet(tmp_path / "out" / "edits.parquet").edit_id.tolist() == ["color-0-qwen"]
    assert main(["data", "import", "genai-bench", "release", "out2", "--map", "category=kind"]) == 1
    assert "takes no import option" in capsys.readouterr().err
