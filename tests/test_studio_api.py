"""The studio's endpoints through gradio_client, against the app launched in-process on the demo
benchmark with the `dummy` scorer and a fake job command (tests/studio_fake_job.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

gr = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from edithf.config import describe_fields  # noqa: E402
from edithf.data.dataset import load_dataset  # noqa: E402
from conftest import running_studio, wait_for



def frame(value) -> pd.DataFrame:
    """A gr.Dataframe output as the client returns it -> DataFrame."""
    return pd.DataFrame(value["data"], columns=value["headers"])


@pytest.fixture(scope="module")
def studio(demo_dataset, tmp_path_factory):
    with running_studio(demo_dataset, tmp_path_factory.mktemp("studio")) as (demo, url, _):
        client = Client(url, verbose=False)
        try:
            yield client, demo, load_dataset(demo_dataset)
        finally:
            client.close()


def test_endpoints_are_named(studio):
    client, _, _ = studio
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    expected = {"/score", "/score_pick", "/compare", "/compare_pick", "/leaderboard", "/leaderboard_evaluator",
                "/dataset_load", "/dataset_group", "/dataset_predict", "/train_preview", "/train_launch",
                "/train_status", "/train_stop"}
    assert expected <= names, expected - names


def test_score_matches_the_library(studio):
    client, _, ds = studio
    row = ds.edits.iloc[0]
    src, edited = ds.image_path(row["source"]), ds.image_path(row["edited"])
    table, overall, plot, pair = client.predict(handle_file(str(src)), handle_file(str(edited)), row["prompt"],
                                                "dummy", api_name="/score")
    table = frame(table).set_index("dimension")
    from edithf.evaluators.registry import create_evaluator

    want = create_evaluator("dummy").score_one(src, edited, row["prompt"])
    for d in ("quality", "alignment", "preservation", "overall"):
        assert table.loc[d, "score"] == pytest.approx(want[d], abs=0.01)
    assert "0–100" in table.loc["quality", "range"]
    assert f"{want['overall']:.1f}" in overall
    assert plot is not None and len(pair) == 2


def test_score_pick_fills_the_inputs(studio):
    client, _, ds = studio
    row = ds.edits.iloc[3]
    src, edited, prompt = client.predict(row["edit_id"], api_name="/score_pick")
    assert prompt == row["prompt"] and Path(src).exists() and Path(edited).exists()


@pytest.mark.parametrize("case, message", [
    ("empty prompt", "prompt is empty"),
    ("not an image", "cannot read notes.png as an image"),
    ("huge image", "above the limit"),
])
def test_score_bad_input_is_explained(studio, tmp_path, case, message):
    client, _, ds = studio
    src = str(ds.image_path(ds.edits.iloc[0]["source"]))
    edited, prompt = src, "make it pink"
    if case == "empty prompt":
        prompt = "  "
    elif case == "not an image":
        edited = tmp_path / "notes.png"
        edited.write_text("this is text, not a PNG")
    elif case == "huge image":
        from PIL import Image

        edited = tmp_path / "huge.png"
        Image.new("L", (8000, 7000)).save(edited)  # 56 MP, above the 50 MP default limit
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(src), handle_file(str(edited)), prompt, "dummy", api_name="/score")
    # the app keeps working
    table = client.predict(handle_file(src), handle_file(src), "keep it", "dummy", api_name="/score")[0]
    assert len(frame(table)) == 4


def test_compare_ranks_a_demo_group(studio):
    client, _, ds = studio
    group = ds.edits["group_id"].iloc[0]
    source, prompt, files = client.predict(group, api_name="/compare_pick")  # the models' names: session state
    n = int((ds.edits["group_id"] == group).sum())
    assert len(files) == n
    table, gallery, pairs, plot, pair = client.predict(
        handle_file(source), prompt, [handle_file(f) for f in files], "dummy", 1.0, api_name="/compare")
    table = frame(table)
    assert sorted(table["edit"]) == sorted(ds.edits.loc[ds.edits["group_id"] == group, "model"])
    assert len(table) == n and len(gallery) == n
    assert table["overall"].is_monotonic_decreasing
    assert table["rank_overall"].iloc[0] == 1 and table["best"].iloc[0].startswith("★")
    for d in ("quality", "alignment", "preservation", "overall"):  # rank 1 = highest score
        assert table.loc[table[f"rank_{d}"] == 1, d].min() == table[d].max()
    pairs = frame(pairs)
    assert len(pairs) == n * (n - 1) // 2 * 4
    ties = pairs[pairs["preferred"] == "tie"]
    assert (ties["difference"].abs() <= 1.0).all()
    assert (pairs.loc[pairs["preferred"] != "tie", "difference"].abs() > 1.0).all()


def test_compare_needs_two_edits(studio):
    client, _, ds = studio
    src = str(ds.image_path(ds.edits.iloc[0]["source"]))
    with pytest.raises(AppError, match="at least two"):
        client.predict(handle_file(src), "x", [handle_file(src)], "dummy", 1.0, api_name="/compare")


def test_leaderboard_human_and_evaluator(studio):
    client, _, ds = studio
    table, bt, heat, win, csv = client.predict("model", [], [], "overall", "",
                                               ["quality", "alignment", "preservation", "overall", "elo", "rank_ub"],
                                               api_name="/leaderboard")
    table = frame(table)
    assert sorted(table["model"]) == sorted(ds.edits["model"].unique())
    assert table["overall"].is_monotonic_decreasing
    assert {"elo", "rank_ub"} <= set(table.columns) and "n_edits" not in table.columns
    assert all(fig is not None for fig in (bt, heat, win))
    assert pd.read_csv(csv)["model"].tolist() == table["model"].tolist()
    evaluator, srcc = client.predict("dummy", "model", [], [], "overall", "", ["overall"],
                                     api_name="/leaderboard_evaluator")
    assert sorted(frame(evaluator)["model"]) == sorted(table["model"]) and "SRCC" in srcc


def test_leaderboard_filters_and_per_task(studio):
    client, _, ds = studio
    task = sorted(ds.edits["task"].unique())[0]
    models = sorted(ds.edits["model"].unique())[:3]
    table = frame(client.predict("task", [task], models, "alignment", "", ["alignment"], api_name="/leaderboard")[0])
    assert set(table["task"]) == {task} and set(table["model"]) <= set(models)
    assert table["alignment"].is_monotonic_decreasing
    one = models[0][1:4]
    table = frame(client.predict("model", [], [], "overall", one, ["overall"], api_name="/leaderboard")[0])
    assert len(table) >= 1 and all(one.lower() in m.lower() for m in table["model"])


def test_dataset_browse_and_bad_folder(studio, tmp_path):
    client, _, ds = studio
    summary, groups = client.predict(str(ds.root), api_name="/dataset_load")
    assert f"{len(ds.edits)} edits" in summary
    group = ds.edits["group_id"].iloc[0]
    source, prompt, gallery, table = client.predict(str(ds.root), group, "dummy", api_name="/dataset_group")
    assert len(gallery) == int((ds.edits["group_id"] == group).sum()) and "prompt" in prompt
    assert "mos_quality" in frame(table).columns
    bad = tmp_path / "bad"
    bad.mkdir()
    ds.edits.drop(columns=["prompt"]).to_parquet(bad / "edits.parquet")
    with pytest.raises(AppError, match="prompt"):
        client.predict(str(bad), api_name="/dataset_load")


def form_values(cls, **overrides):
    """Positional values of the job form, in field order, as the page would send them."""
    out = []
    for row in describe_fields(cls):
        value = overrides.get(row["name"], row["default"])
        if row["type"] == "list" and not row["choices"]:
            value = ", ".join(str(v) for v in value)
        out.append(value)
    return out


def test_train_job_starts_queues_reports_and_stops(studio, tmp_path):
    client, demo, _ = studio
    from edithf.training.train_config import TrainConfig

    yaml_text = client.predict(*form_values(TrainConfig, lr=3e-4), api_name="/train_preview")
    assert "lr: 0.0003" in yaml_text
    with pytest.raises(AppError, match="epochs"):
        client.predict(*form_values(TrainConfig, epochs="one, two"), api_name="/train_preview")

    first = client.predict(*form_values(TrainConfig, output_dir=str(tmp_path / "a")), api_name="/train_launch")
    job = first[3]["id"]  # outputs: yaml, message, job selector, job details, ...
    assert "started" in first[1] and first[3]["status"] == "running"
    second = client.predict(*form_values(TrainConfig, output_dir=str(tmp_path / "b")), api_name="/train_launch")
    assert "queued" in second[1] and second[3]["status"] == "queued"

    def status():
        info = client.predict(job, api_name="/train_status")
        return info if info["progress"] > 0 and "step" in info["logs"] else None

    info = wait_for(status)
    assert info["status"] == "running" and info["metrics"][0]["step"] == 1
    assert client.predict(job, api_name="/train_stop") == "stopping"
    wait_for(lambda: client.predict(job, api_name="/train_status")["status"] == "stopped")
    client.predict(second[3]["id"], api_name="/train_stop")  # the queued one starts, then is stopped too


def test_dpo_form_resolves_its_config(studio):
    client, _, _ = studio
    from edithf.dpo.dpo_config import DPOConfig

    text = client.predict(*form_values(DPOConfig, beta=500.0), api_name="/dpo_preview")
    assert "pipeline:" in text and "beta: 500.0" in text
    assert "output_dir: runs/dpo\n" not in text  # the default folder became a fresh run folder


def test_building_the_studio_imports_no_torch(demo_dataset, tmp_path):
    code = (
        "import sys; from studio.app import build_studio; from studio.state import Settings; "
        f"build_studio(Settings(dataset={str(demo_dataset)!r}, runs_dir=__import__('pathlib').Path({str(tmp_path)!r})));"
        "bad = [m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules]; "
        "assert not bad, bad; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]
