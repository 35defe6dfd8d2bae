"""Benchmark protocols against hand-computed answers (ties, duplicates, K-way groups)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edithf.public.editreward_bench import protocol_editreward
from edithf.public.editscore_bench import protocol_editscore
from edithf.public.evaluate import PUBLISHED_TABLE5, table5
from edithf.public.genai_bench import protocol_genai
from edithf.public.pointwise import protocol_pointwise


def comps(rows):
    return pd.DataFrame(rows, columns=["comparison_id", "group_id", "edit_a", "edit_b", "label", "dimension", "task", "vote"])


def test_genai_protocol_by_hand():
    c = comps([
        ("1", "1", "a1", "b1", 1, "overall", "t", "leftvote"),
        ("2", "2", "a2", "b2", -1, "overall", "t", "rightvote"),
        ("3", "3", "a3", "b3", 0, "overall", "t", "tievote"),
        ("4", "4", "a4", "b4", 0, "overall", "t", "bothbad_vote"),
    ])
    scores = pd.Series({"a1": 80, "b1": 20, "a2": 70, "b2": 60, "a3": 50, "b3": 50.5, "a4": 10, "b4": 12})
    m = protocol_genai(c, scores, tie_margin=1.0, bad_threshold=20)
    # predicted: left, left (70>60: wrong), tie (|-0.5|<=1), both bad -> 3 of 4
    assert m["acc_4way"] == pytest.approx(0.75)
    assert m["acc_no_ties"] == pytest.approx(0.5)  # pairs 1 and 2 only
    assert m["n_non_tie"] == 2


def _editreward_case():
    c = comps([
        ("p1", "g1", "x", "y", 1, "overall", "3pair", ""),
        ("p2", "g1", "x", "z", 1, "overall", "3pair", ""),
        ("p3", "g1", "y", "z", -1, "overall", "3pair", ""),   # z > y
        ("p4", "g2", "u", "v", 1, "overall", "3pair", ""),
        ("p5", "g2", "u", "w", 0, "overall", "3pair", ""),    # human tie
        ("p6", "h1", "s", "t", -1, "overall", "2pair", ""),
    ])
    scores = pd.Series({"x": 3, "y": 1, "z": 2, "u": 1, "v": 1, "w": 0, "s": 1, "t": 2})
    return c, scores


def test_editreward_group_accuracy_dropping_ties_by_hand():
    c, scores = _editreward_case()
    m = protocol_editreward(c, scores, group_ties="drop")
    # g1: all three right; g2: u=v is a model tie -> wrong (the tie p5 is dropped); h1 right
    assert m["acc_pairs"] == pytest.approx(4 / 5)
    assert m["group_acc_3pair"] == pytest.approx(0.5)
    assert m["group_acc_2pair"] == pytest.approx(1.0)
    assert m["group_acc_mean"] == pytest.approx(0.75)
    assert m["group_acc_overall"] == pytest.approx(2 / 3)
    assert m["n_human_tie_pairs"] == 1 and m["group_ties"] == "drop"
    # a split with only a human tie has no counted group: NaN, and left out of the mean
    only_tie = pd.concat([c, comps([("p7", "k1", "s", "t", 0, "overall", "4pair", "")])], ignore_index=True)
    m = protocol_editreward(only_tie, scores, group_ties="drop")
    assert np.isnan(m["group_acc_4pair"]) and m["group_acc_mean"] == pytest.approx(0.75)


def test_editreward_group_accuracy_epsilon_is_editrewards_definition():
    """K=2 human-tie groups judged as EditReward's eval_bench does: ε tuned on the split by
    tie-calibrated accuracy; a tie group is right iff |difference| <= ε, others by their sign."""
    two = comps([
        ("a", "t1", "a1", "b1", 0, "overall", "2pair", "A=B"),     # |d| = 0.5
        ("b", "t2", "a2", "b2", 0, "overall", "2pair", "A=B"),     # |d| = 3
        ("c", "n1", "a3", "b3", 1, "overall", "2pair", "A>B"),     # d = 1 (right sign)
        ("d", "n2", "a4", "b4", -1, "overall", "2pair", "B>A"),    # d = 4 (wrong sign)
    ])
    scores = pd.Series({"a1": 1.5, "b1": 1, "a2": 4, "b2": 1, "a3": 2, "b3": 1, "a4": 5, "b4": 1})
    # tie-calibrated accuracy by brute force over ε in {0, 0.5, 1, 3, 4}: ε=0.5 gets a, c -> 2/4
    # (ε=1 would tie c, ε=3 ties b but also c: 2/4 again, the smallest ε wins)
    m = protocol_editreward(two, scores)
    assert m["group_ties"] == "epsilon" and m["tie_epsilon_2pair"] == pytest.approx(0.5)
    # groups: t1 right (0.5 <= ε), t2 wrong, n1 right (sign, although |d| > ε is not needed), n2 wrong
    assert m["group_acc_2pair"] == pytest.approx(2 / 4) and m["group_acc_overall"] == pytest.approx(0.5)
    # the other definition is reported beside it: ties dropped, n1 right, n2 wrong
    assert m["group_acc_overall_drop"] == pytest.approx(0.5)
    c, s = _editreward_case()
    m = protocol_editreward(c, s)
    # 3pair has a human tie (u, w): ε tuned on 3pair's pairs; g2 still fails on u=v (model tie)
    assert m["group_acc_3pair"] == pytest.approx(0.5) and m["group_acc_2pair"] == pytest.approx(1.0)


def test_editscore_macro_over_tasks():
    c = comps([
        ("1", "1", "a", "b", 1, "overall", "t1", ""),
        ("2", "2", "c", "d", 1, "overall", "t1", ""),
        ("3", "3", "e", "f", 1, "overall", "t2", ""),
    ])
    s = pd.Series({"a": 2, "b": 1, "c": 1, "d": 1, "e": 0, "f": 1})  # t1: 1/2 (tie wrong), t2: 0/1
    m = protocol_editscore(c, {"overall": s})
    assert m["macro_acc_overall"] == pytest.approx((0.5 + 0.0) / 2)


def test_pointwise_srcc_and_3way():
    from scipy.stats import spearmanr

    edits = pd.DataFrame({"edit_id": list("abcd"), "group_id": ["g", "g", "g", "h"]})
    human = pd.DataFrame({"edit_id": list("abcd"), "human_score": [1, 2, 2, 5]})
    scores = pd.Series({"a": 0.1, "b": 0.5, "c": 0.9, "d": 0.7})
    m = protocol_pointwise(edits, human, scores, pairwise=True, tie_margin=0.0)
    assert m["srcc"] == pytest.approx(spearmanr([0.1, 0.5, 0.9, 0.7], [1, 2, 2, 5])[0])
    # pairs in g: (a,b): h -1, m -1 ok; (a,c): -1,-1 ok; (b,c): h tie, m -1 wrong -> 2/3
    assert m["acc_3way"] == pytest.approx(2 / 3) and m["n_pairs"] == 3


def test_table5_marks_published_rows():
    t = table5([{"model": "classic", "column": "GenAI-Bench", "headline": 0.5}])
    assert "classic (measured)" in t.index
    assert t.loc["EditHF (paper) (published)", "GenAI-Bench"] == PUBLISHED_TABLE5.loc["EditHF (paper)", "GenAI-Bench"]
    assert np.isnan(t.loc["classic (measured)", "AURORA"])


def test_edithf_eval_end_to_end_with_dummy(tmp_path, capsys):
    """Raw GenAI-Bench parquet -> import -> dummy scorer -> protocol -> Table 5 with published rows."""
    import io
    import json

    from PIL import Image

    from edithf.cli import main

    def struct(value):
        buf = io.BytesIO()
        Image.fromarray(np.full((32, 32, 3), value, np.uint8)).save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}

    rows = [dict(source_prompt="", target_prompt="", instruct_prompt=f"brighten {i}", source_image=struct(100),
                 left_model="a", left_output_image=struct(100 + 10 * i), right_model="b",
                 right_output_image=struct(60), vote_type=v)
            for i, v in enumerate(["leftvote", "rightvote", "tievote", "leftvote"])]
    pd.DataFrame(rows).to_parquet(tmp_path / "test_v1.parquet")
    results = tmp_path / "results.json"
    args = ["eval", "--model", "dummy", "--benchmark", "genai-bench", "--data", str(tmp_path / "test_v1.parquet"),
            "--work", str(tmp_path / "imported"), "--results", str(results)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "acc_no_ties" in out and "dummy (measured)" in out and "EditHF (paper) (published)" in out
    saved = json.loads(results.read_text())
    assert saved[0]["benchmark"] == "genai-bench" and 0 <= saved[0]["metrics"]["acc_4way"] <= 1
    assert (tmp_path / "imported" / "comparisons.parquet").is_file()
    assert main(args) == 0  # second run reuses the import and the cached predictions
    assert len(json.loads(results.read_text())) == 1


def test_prediction_cache_key_follows_the_checkpoint(tmp_path, monkeypatch):
    """The per-scorer cache of `edithf eval` is keyed by the scorer spec with its local path made
    absolute and its files' times: a retrained checkpoint (or another folder reached by the same
    relative path) never reuses old predictions."""
    import os

    from edithf.predict import scorer_key

    for name in ("a", "b"):
        (tmp_path / name / "run").mkdir(parents=True)
        (tmp_path / name / "run" / "model.safetensors").write_bytes(b"1")
    monkeypatch.chdir(tmp_path / "a")
    key_a = scorer_key("edithf:run")
    assert key_a == scorer_key("edithf:run") and key_a.startswith("edithf_run-")
    monkeypatch.chdir(tmp_path / "b")
    assert scorer_key("edithf:run") != key_a
    weights = tmp_path / "b" / "run" / "model.safetensors"
    before = scorer_key("edithf:run")
    os.utime(weights, ns=(1, 1))
    assert scorer_key("edithf:run") != before
    assert scorer_key("classic") != scorer_key("dummy")


def _editreward_parquet(root):
    import io

    from PIL import Image

    def struct(value):
        buf = io.BytesIO()
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}

    rows = [dict(id=f"g{n}_0", instruction=f"brighten {n}", dataset="2pair", ranking=r, comparison_type="AvsB",
                 source_image=struct(100), candidate_1=struct(100 + 10 * n), candidate_2=struct(60),
                 model_1="a", model_2="b") for n, r in enumerate(["A>B", "A=B", "B>A"])]
    (root / "2pair").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(root / "2pair" / "train-0.parquet")


def test_eval_names_the_group_definition_it_shows(tmp_path, capsys):
    import json

    from edithf.cli import main

    _editreward_parquet(tmp_path / "bench")
    base = ["eval", "--scorer", "dummy", "--benchmark", "editreward-bench", "--data", str(tmp_path / "bench"),
            "--work", str(tmp_path / "imported"), "--results", str(tmp_path / "results.json")]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "group_acc_overall (K=2 human ties judged with the tuned tie threshold (EditReward's definition))" in out
    assert main([*base, "--group-ties", "drop", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[: out.index("\nTable 5")])
    assert result["metrics"]["group_ties"] == "drop" and "group_acc_overall_epsilon" in result["metrics"]
    assert "human-tie pairs dropped" in out
    json.loads((tmp_path / "results.json").read_text())  # valid JSON (no NaN)
    assert main([*base, "--bad-threshold", "10"]) == 1
    assert "editreward-bench does not use --bad-threshold" in capsys.readouterr().err
