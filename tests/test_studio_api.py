"""The studio's endpoints through gradio_client, against the app launched in-process on the demo
benchmark with the `dummy` scorer and a fake job command (tests/studio_fake_job.py)."""
from __future__ import annotations

import json
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
    """A gr.Dataframe output as the client returns it (a value, or an update with its value) -> DataFrame."""
    value = value.get("value", value)
    return pd.DataFrame(value["data"], columns=value["headers"])


def served_status(url: str, path) -> int:
    """The HTTP status of GET /gradio_api/file=<path> on the running studio."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/gradio_api/file={path}") as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


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
    table, overall, plot, pair, card = client.predict(handle_file(str(src)), handle_file(str(edited)), row["prompt"],
                                                      "dummy", api_name="/score")
    table = frame(table).set_index("dimension")
    from edithf.evaluators.registry import create_evaluator

    want = create_evaluator("dummy").score_one(src, edited, row["prompt"])
    for d in ("quality", "alignment", "preservation", "overall"):
        assert table.loc[d, "score"] == pytest.approx(want[d], abs=0.01)
    assert "0–100" in table.loc["quality", "range"]
    assert f"{want['overall']:.1f}" in overall
    assert plot is not None and len(pair) == 2
    assert "Scorer card" in card and "reads the prompt" in card


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


def test_compare_ranks_a_demo_group_with_the_library(studio):
    client, _, ds = studio
    group = ds.edits["group_id"].iloc[0]
    source, prompt, files = client.predict(group, api_name="/compare_pick")  # the models' names: session state
    n = int((ds.edits["group_id"] == group).sum())
    assert len(files) == n
    table, gallery, pairs, plot, pair, note, card = client.predict(
        handle_file(source), prompt, [handle_file(f) for f in files], "dummy", 1.0, api_name="/compare")
    table = frame(table)
    assert sorted(table["edit"]) == sorted(ds.edits.loc[ds.edits["group_id"] == group, "model"])
    assert len(table) == n and len(gallery) == n
    assert table["overall"].is_monotonic_decreasing
    assert table["rank_overall"].iloc[0] == 1 and table["best"].iloc[0].startswith("★")
    assert (table["best"] != "").sum() == 1
    for d in ("quality", "alignment", "preservation", "overall"):  # rank 1 = highest score
        assert table.loc[table[f"rank_{d}"] == 1, d].min() == table[d].max()
    # the same ranking as the library's
    from edithf.evaluators.registry import create_evaluator
    from edithf.reward.selection import best_of_n, rank_candidates

    rows = ds.edits[ds.edits["group_id"] == group]
    best, scores = best_of_n(create_evaluator("dummy"), str(ds.image_path(rows["source"].iloc[0])),
                             [str(ds.image_path(p)) for p in rows["edited"]], prompt)
    assert table["edit"].iloc[0] == rows["model"].iloc[best]
    want = rank_candidates(scores, list(rows["model"])).set_index("candidate")
    for d in ("quality", "overall"):
        assert table.set_index("edit")[f"rank_{d}"].to_dict() == want[f"rank_{d}"].astype(int).to_dict()
    pairs = frame(pairs)
    assert len(pairs) == n * (n - 1) // 2 * 4
    ties = pairs[pairs["preferred"] == "tie"]
    assert (ties["difference"].abs() <= 1.0).all()
    assert (pairs.loc[pairs["preferred"] != "tie", "difference"].abs() > 1.0).all()
    info = create_evaluator("dummy").info
    assert "Scorer card" in card and ("does **not read the prompt**" in note) == (not info.reads_prompt)


def test_compare_needs_two_edits(studio):
    client, _, ds = studio
    src = str(ds.image_path(ds.edits.iloc[0]["source"]))
    with pytest.raises(AppError, match="at least two"):
        client.predict(handle_file(src), "x", [handle_file(src)], "dummy", 1.0, api_name="/compare")


LEADERBOARD_COLUMNS = ["quality", "alignment", "preservation", "overall", "n_edits"]


def test_leaderboard_human_and_evaluator(studio):
    client, _, ds = studio
    table, bt, heat, win, note = client.predict("model", [], [], "overall", "", ["quality", "alignment"],
                                                api_name="/leaderboard")
    table = frame(table)
    assert sorted(table["model"]) == sorted(ds.edits["model"].unique())
    assert table["elo"].is_monotonic_decreasing  # sorted by the rating whose rank is shown
    assert list(table.columns[:5]) == ["rank_ub", "model", "elo", "elo_low", "elo_high"]
    assert {"quality", "alignment"} <= set(table.columns) and "n_edits" not in table.columns
    assert (table["elo_low"] <= table["elo"]).all() and (table["elo"] <= table["elo_high"]).all()
    assert all(fig is not None for fig in (bt, heat, win))
    from edithf.leaderboard import build_leaderboard

    want = build_leaderboard(ds, n_bootstrap=20, seed=0).bt["overall"].set_index("model")["elo"]
    assert table.set_index("model")["elo"].to_dict() == pytest.approx(want.round(2).to_dict(), abs=0.01)
    evaluator, srcc, csv, chart = client.predict("dummy", "model", [], [], "overall", "", ["overall"],
                                                 api_name="/leaderboard_evaluator")
    traces = json.loads(chart["plot"])["data"]
    assert [t["name"] for t in traces] == ["human", "dummy"]
    assert all(t["type"] == "scatter" and t["mode"] == "markers" and "error_y" in t for t in traces)  # points ± CI
    assert sorted(frame(evaluator)["model"]) == sorted(table["model"]) and "SRCC" in srcc
    exported = pd.read_csv(csv)
    assert set(exported["leaderboard"]) == {"human", "dummy"}
    assert Path(csv).name == "leaderboard_by-model_overall_tasks-all_models-all_scorer-dummy.csv"
    assert exported.loc[exported["leaderboard"] == "human", "model"].tolist() == table["model"].tolist()


def test_leaderboard_with_one_model_shows_it(studio):
    client, _, ds = studio
    model = sorted(ds.edits["model"].unique())[0]
    table, *_, note = client.predict("model", [], [model], "overall", "", ["overall"], api_name="/leaderboard")
    table = frame(table)
    assert table["model"].tolist() == [model] and table["elo"].iloc[0] != "n/a"
    assert "model filter picks the rows" in note
    evaluator, _, csv, _ = client.predict("dummy", "model", [], [model], "overall", "", ["overall"],
                                          api_name="/leaderboard_evaluator")
    assert frame(evaluator)["model"].tolist() == [model]
    assert "models-all" not in Path(csv).name and "scorer-dummy" in Path(csv).name


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
    *_, note = client.predict("model", ["no such task"], [], "overall", "", [], api_name="/leaderboard")
    assert "no edits match the task filter" in note  # said in the page, not raised


def test_dataset_browse_and_bad_folder(studio, tmp_path):
    client, demo, ds = studio
    summary, groups = client.predict(str(ds.root), api_name="/dataset_load")
    assert f"{len(ds.edits)} edits" in summary
    group = ds.edits["group_id"].iloc[0]
    source, prompt, gallery, table, note = client.predict(str(ds.root), group, "dummy", api_name="/dataset_group")
    assert len(gallery) == int((ds.edits["group_id"] == group).sum()) and "prompt" in prompt
    assert "mos_quality" in frame(table).columns and "`dummy`" in note  # computed or how to compute them
    bad = demo.studio_context.settings.data_roots[0] / "bad"
    bad.mkdir(exist_ok=True)
    ds.edits.drop(columns=["prompt"]).to_parquet(bad / "edits.parquet")
    with pytest.raises(AppError, match="prompt"):
        client.predict(str(bad), api_name="/dataset_load")


def test_dataset_predictions_name_their_scorer(studio):
    client, _, ds = studio
    group = ds.edits["group_id"].iloc[0]
    assert "computed and cached" in client.predict(str(ds.root), "dummy", api_name="/dataset_predict")
    table = frame(client.predict(str(ds.root), group, "dummy", api_name="/dataset_group")[3])
    assert "pred_quality (dummy)" in table.columns and "pred_overall (dummy)" in table.columns


@pytest.mark.parametrize("where", ["/etc", "system temp"])
def test_dataset_folder_outside_the_data_roots_is_refused_without_a_listing(studio, where):
    import tempfile

    client, _, _ = studio
    folder = "/etc" if where == "/etc" else tempfile.mkdtemp(prefix="edithf-not-a-dataset-")
    if where != "/etc":
        (Path(folder) / "secret-name.txt").write_text("x")
    with pytest.raises(AppError, match="outside the folders this studio opens datasets from") as info:
        client.predict(folder, api_name="/dataset_load")
    assert "passwd" not in str(info.value) and "secret-name" not in str(info.value)


def test_a_folder_without_edits_is_named_not_listed(studio):
    client, demo, _ = studio
    folder = demo.studio_context.settings.data_roots[0] / "no-edits"
    folder.mkdir(exist_ok=True)
    (folder / "private-notes.txt").write_text("x")
    with pytest.raises(AppError, match="no edits.parquet") as info:
        client.predict(str(folder), api_name="/dataset_load")
    assert "private-notes" not in str(info.value)


def test_only_the_page_files_are_served(studio, tmp_path):
    """GET /gradio_api/file=<path>: a dataset image is served; a file elsewhere in the temp
    folder and the job database are not (403)."""
    import tempfile

    client, demo, ds = studio
    url = client.src.rstrip("/")
    stray = Path(tempfile.mkdtemp(prefix="edithf-other-run-")) / "config.yaml"
    stray.write_text("secret: 1\n")
    jobs_db = demo.studio_context.jobs.db_path
    assert jobs_db.exists()
    assert served_status(url, ds.image_path(ds.edits.iloc[0]["edited"])) == 200
    assert served_status(url, stray) == 403
    assert served_status(url, Path(jobs_db).resolve()) == 403
    assert served_status(url, Path(__file__).resolve()) == 403  # nor the working directory


def test_scorer_dropdown_lists_evaluator_runs_not_dpo_runs(studio):
    _, demo, _ = studio
    ctx = demo.studio_context
    for name, marker in (("eval-run", "edithf_config.json"), ("dpo-run", "adapter_config.json")):
        best = ctx.settings.runs_dir / name / "best"
        best.mkdir(parents=True, exist_ok=True)
        (best / marker).write_text("{}")
    choices = ctx.scorers()
    assert f"edithf:{ctx.settings.runs_dir / 'eval-run' / 'best'}" in choices
    assert not any("dpo-run" in c for c in choices)


def test_auth_from_the_environment():
    from studio.app import parse_auth

    assert parse_auth("") is None
    assert parse_auth("ann:s3cret, bob:pw") == [("ann", "s3cret"), ("bob", "pw")]
    with pytest.raises(ValueError, match="user:password"):
        parse_auth("ann")


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

    first = client.predict(*form_values(TrainConfig, output_dir="api-a"), api_name="/train_launch")
    job = first[3]["id"]  # outputs: yaml, message, job selector, job details, ...
    assert "started" in first[1] and first[3]["status"] == "running"
    second = client.predict(*form_values(TrainConfig, output_dir="api-b"), api_name="/train_launch")
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


def test_edithf_studio_starts_the_studio_without_importing_it():
    """`edithf studio` runs `python -m studio` in a child process; no module of the library
    imports the UI package."""
    import argparse
    import re

    from edithf.commands.studio import add_arguments, studio_command

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    command = studio_command(parser.parse_args(["--port", "7999", "--scorer", "dummy"]))
    assert command == [sys.executable, "-m", "studio", "--port", "7999", "--scorer", "dummy"]
    library = Path(__file__).resolve().parents[1] / "edithf"
    importing = [str(p) for p in library.rglob("*.py")
                 if re.search(r"^\s*(from|import) studio\b", p.read_text(), flags=re.M)]
    assert importing == []
    out = subprocess.run([sys.executable, "-m", "studio", "--help"], capture_output=True, text=True, timeout=60,
                         cwd=library.parent)
    assert out.returncode == 0 and "--runs-dir" in out.stdout, out.stderr[-2000:]


def test_compute_predictions_reports_edits_done_to_gradio_progress(studio):
    """The Dataset tab's Compute predictions draws the library's progress (edits done / total)
    with Gradio's progress bar; a second click finds them cached."""
    from studio.tabs.dataset import compute_predictions

    _, demo, ds = studio
    calls = []

    def progress(value, desc=None, unit=None):  # gr.Progress's call signature
        calls.append((value, unit))

    text = compute_predictions(demo.studio_context, str(ds.root), "nr_stats", progress)
    assert f"for {len(ds.edits)} edits" in text
    assert calls and calls[-1] == ((len(ds.edits), len(ds.edits)), "edits")
    assert all(done <= total for (done, total), _ in calls)
    calls.clear()
    compute_predictions(demo.studio_context, str(ds.root), "nr_stats", progress)
    assert calls == []  # cached: nothing scored again


def test_scorer_card_says_what_a_scorer_reads_judges_and_means():
    from dataclasses import replace

    from edithf.evaluators.registry import get_info
    from studio.tabs.common import scorer_card

    info = get_info("classic")
    card = scorer_card("classic", replace(info, extra={**info.extra, "caveats": ["a test fixture"]}))
    assert f"reads the prompt: **{'yes' if info.reads_prompt else 'no'}**" in card
    missing = [d for d in ("quality", "alignment", "preservation") if d not in info.dimensions]
    assert missing and f"not available: {', '.join(missing)}" in card
    assert "range: 0–100 (higher is better)" in card and info.meaning in card
    assert "caveat: a test fixture" in card


def test_a_dimension_the_scorer_cannot_judge_reads_not_available(studio):
    """Score with a scorer that does not judge alignment: n/a in the table, never a number."""
    client, _, ds = studio
    row = ds.edits.iloc[0]
    src, edited = handle_file(str(ds.image_path(row["source"]))), handle_file(str(ds.image_path(row["edited"])))
    table, overall, *_ = client.predict(src, edited, row["prompt"], "nr_stats", api_name="/score")
    table = frame(table).set_index("dimension")
    assert table.loc["alignment", "score"] == "n/a (this scorer cannot judge it)"
    assert table.loc["quality", "score"] != "n/a (this scorer cannot judge it)"


def test_edithf_auth_puts_a_login_in_front_of_the_studio(demo_dataset, tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    from studio.app import build_studio, launch_studio
    from studio.jobs import JobStore
    from studio.state import Settings

    monkeypatch.setenv("EDITHF_AUTH", "ann:s3cret")
    jobs = JobStore(tmp_path / "jobs.sqlite")
    demo = build_studio(Settings(dataset=str(demo_dataset), scorer="dummy", runs_dir=tmp_path / "runs",
                                 cache_dir=tmp_path / "cache"), jobs)
    _, url, _ = launch_studio(demo, prevent_thread_lock=True, quiet=True)
    try:
        image = load_dataset(demo_dataset).image_path(load_dataset(demo_dataset).edits.iloc[0]["edited"])
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url.rstrip('/')}/gradio_api/file={image}")
        assert refused.value.code in (401, 403)
        with pytest.raises(Exception):  # the API needs the login too
            Client(url, verbose=False)
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        assert "/score" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        client.close()
    finally:
        jobs.close()
        demo.close()


def test_ranking_leaves_a_dimension_the_scorer_cannot_judge_unranked():
    """The library's ranking the Compare tab shows: no rank and no preferred edit on a NaN
    dimension, ties within the margin."""
    import numpy as np

    from edithf.reward.selection import preference_pairs, rank_candidates

    scores = pd.DataFrame({"quality": [50.0, 70.0, 69.0], "alignment": [np.nan] * 3,
                           "preservation": [90.0, 80.0, 80.0], "overall": [66.0, 76.0, 75.4]})
    ranked = rank_candidates(scores, ["a", "b", "c"])
    assert ranked["candidate"].tolist() == ["b", "c", "a"]
    assert ranked["rank_alignment"].isna().all() and ranked["rank_preservation"].tolist() == [2, 2, 1]
    pairs = preference_pairs(ranked, margin=1.0).set_index(["candidate_a", "candidate_b", "dimension"])
    assert pairs.loc[("b", "c", "quality"), "preferred"] == "tie"
    assert pairs.loc[("b", "a", "overall"), "preferred"] == "b"
    assert pd.isna(pairs.loc[("b", "c", "alignment"), "preferred"])


def test_run_scorer_card_shows_its_caveats_before_the_scorer_is_built(tmp_path):
    """An `edithf:<run>` card reads the run's edithf_config.json (no torch, no weights): a tiny
    fixture backbone's caveat is there from the first view, not only once the scorer was built."""
    from edithf.evaluators.edithf_scorer import tiny_backbone_caveat
    from studio.tabs.common import card_for

    best = tmp_path / "tiny-run" / "best"
    best.mkdir(parents=True)
    (best / "edithf_config.json").write_text(json.dumps({"backbone": "tiny:qwen2_vl@demo",
                                                         "dimensions": ["quality", "preservation"]}))
    card = card_for(f"edithf:{best}")
    assert f"caveat: {tiny_backbone_caveat('tiny:qwen2_vl@demo')}" in card
    assert "not available: alignment" in card  # the run's own dimensions, not the registry's
    assert "caveat:" in card_for("edithf:tiny:internvl")
    (best / "edithf_config.json").write_text(json.dumps({"backbone": "Qwen/Qwen2-VL-2B-Instruct"}))
    assert "caveat:" not in card_for(f"edithf:{best}")
    assert "caveat:" not in card_for("edithf:ORG/some-hub-model")  # not a folder here: the registry's card


def test_python_app_py_help_prints_the_options_instead_of_starting_a_server():
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "app.py", "--help"], capture_output=True, text=True, timeout=60, cwd=root)
    assert out.returncode == 0 and "--runs-dir" in out.stdout, out.stderr[-2000:]


def test_symlinks_traversal_and_lookalike_folders_are_not_served(studio, tmp_path):
    """A symlink in the dataset or runs folder to a file outside, `..` in the request and a
    sibling folder named like the runs folder (runs-evil): 403, through the running studio."""
    client, demo, ds = studio
    url = client.src.rstrip("/")
    runs = demo.studio_context.settings.runs_dir.resolve()
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    evil = runs.with_name(runs.name + "-evil")
    evil.mkdir(exist_ok=True)
    (evil / "secret.txt").write_text("secret\n")
    image_link = ds.root.resolve() / "leak-r1.png"
    image_link.symlink_to(secret)
    (runs / "leak-r1").symlink_to(tmp_path)
    try:
        for path in (image_link, runs / "leak-r1" / "secret.txt", evil / "secret.txt",
                     f"{runs}/../{evil.name}/secret.txt", "/etc/passwd"):
            assert served_status(url, path) == 403, path
    finally:
        image_link.unlink()
        (runs / "leak-r1").unlink()


def test_the_job_database_lies_outside_every_served_folder(demo_dataset, tmp_path, monkeypatch):
    """Gradio lowercases the request and its blocklist before resolving symlinks, so a request
    through a symlink (/proc/self/cwd/runs/...) reached a blocked database whose real path has a
    capital letter. The database must not lie under a served folder at all."""
    import os

    from gradio.utils import is_allowed_file

    from studio.app import build_studio, served_paths
    from studio.state import Settings

    home = tmp_path / "EditHF"
    home.mkdir()
    monkeypatch.chdir(home)
    demo = build_studio(Settings(dataset=str(demo_dataset), scorer="dummy", runs_dir=Path("runs"),
                                 cache_dir=tmp_path / "Cache"))
    try:
        db = Path(demo.studio_context.jobs.db_path).resolve()
        allowed, blocked = served_paths(demo.studio_context)
        (tmp_path / "link").symlink_to(db.parent)
        for name in (db.name, db.name + "-wal", db.name + "-shm"):
            for spelling in (db.parent / name, tmp_path / "link" / name):
                assert not is_allowed_file(spelling, blocked, allowed, [])[0], spelling
        assert not any(db.is_relative_to(p) for p in allowed)
        assert os.path.exists(db)
    finally:
        demo.studio_context.jobs.close()
        demo.close()


def test_a_dataset_image_symlinked_outside_its_folder_is_not_handed_out(studio, tmp_path):
    """A dataset whose image is a symlink to a file outside the dataset folder (here in the temp
    folder, which Gradio copies from): the Dataset tab refuses to show it instead of copying the
    target into Gradio's cache and serving it."""
    import shutil

    client, demo, ds = studio
    leaky = demo.studio_context.settings.data_roots[0] / "leaky"
    shutil.copytree(ds.root, leaky, symlinks=True, dirs_exist_ok=True)
    group = ds.edits["group_id"].iloc[0]
    source = leaky / ds.edits[ds.edits["group_id"] == group].iloc[0]["source"]
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the browser")
    source.unlink()
    source.symlink_to(secret)
    client.predict(str(leaky), api_name="/dataset_load")
    with pytest.raises(AppError, match="outside the dataset folder"):
        client.predict(str(leaky), group, "dummy", api_name="/dataset_group")


def test_a_typed_dataset_folder_cannot_leave_the_data_roots(studio, tmp_path):
    """A symlink inside a data root to a dataset elsewhere, `..` out of it and a look-alike
    sibling (data-evil) are outside the data roots."""
    import shutil

    client, demo, ds = studio
    root = demo.studio_context.settings.data_roots[0].resolve()
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(ds.root, elsewhere)
    evil = root.with_name(root.name + "-evil")
    shutil.copytree(ds.root, evil, dirs_exist_ok=True)
    link = root / "link-r1"
    link.symlink_to(elsewhere)
    try:
        for folder in (link, f"{root}/../{evil.name}", evil):
            with pytest.raises(AppError, match="outside the folders this studio opens datasets from"):
                client.predict(str(folder), api_name="/dataset_load")
    finally:
        link.unlink()


@pytest.mark.parametrize("arg", ["/etc", "/no/such/folder"])
def test_a_typed_scorer_folder_outside_the_studio_folders_is_refused(studio, arg):
    """A browser may type a scorer name; `edithf:<folder>` must not make the server load (or tell
    whether it holds) a folder outside the runs folder and the data roots."""
    client, _, ds = studio
    row = ds.edits.iloc[0]
    src, edited = handle_file(str(ds.image_path(row["source"]))), handle_file(str(ds.image_path(row["edited"])))
    name = f"edithf:{arg}"
    with pytest.raises(AppError, match="outside the runs folder") as score:
        client.predict(src, edited, row["prompt"], name, api_name="/score")
    with pytest.raises(AppError, match="outside the runs folder") as predict:
        client.predict(str(ds.root), name, api_name="/dataset_predict")
    # the same words whether the folder exists or not: nothing about the server's files leaks
    assert "not a" not in str(score.value) and "exist" not in str(predict.value)
