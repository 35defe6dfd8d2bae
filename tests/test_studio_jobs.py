"""The studio's SQLite job store with a fake job (tests/studio_fake_job.py): start, status,
logs, progress, stop, a FIFO queue, and a store restarted on the same file."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from studio.jobs import JobStore
from conftest import fake_job_command as fake_command, wait_for



def config(out: Path, steps=400, step_seconds=0.05) -> str:
    return f"output_dir: {out}\nsteps: {steps}\nstep_seconds: {step_seconds}\n"


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite", command=fake_command, stop_grace_s=3.0, monitor_interval_s=0.2)
    yield s
    for job in s.list():
        if job["status"] in ("running", "stopping", "queued"):
            s.stop(job["id"])
    s.close()


def test_start_logs_progress_stop(store, tmp_path):
    out = tmp_path / "run1"
    job = store.submit("train", config(out), out)
    assert store.status(job) == "running"
    wait_for(lambda: "step 3" in store.logs(job))
    wait_for(lambda: store.progress(job) > 0)
    assert 0 < store.progress(job) < 1
    assert store.metrics(job)[0]["step"] == 1
    assert store.stop(job) == "stopping"
    assert (out / "STOP").exists()
    wait_for(lambda: store.status(job) == "stopped", timeout=10)
    assert "STOP found" in store.logs(job)  # it stopped cooperatively, not by a kill


def test_finished_job_and_failed_job(store, tmp_path):
    ok = store.submit("train", config(tmp_path / "ok", steps=3, step_seconds=0.01), tmp_path / "ok")
    wait_for(lambda: store.status(ok) == "finished")
    assert store.progress(ok) == 1.0 and store.get(ok)["returncode"] == 0
    bad = store.submit("train", "output_dir: [unclosed\n", tmp_path / "bad")
    wait_for(lambda: store.status(bad) == "failed")
    assert store.get(bad)["returncode"] != 0
    assert "yaml" in store.logs(bad).lower()


def test_second_job_queues_fifo(store, tmp_path):
    first = store.submit("train", config(tmp_path / "a"), tmp_path / "a")
    second = store.submit("dpo", config(tmp_path / "b", steps=2, step_seconds=0.01), tmp_path / "b")
    third = store.submit("train", config(tmp_path / "c", steps=2, step_seconds=0.01), tmp_path / "c")
    assert [store.status(j) for j in (first, second, third)] == ["running", "queued", "queued"]
    assert (store.queue_position(second), store.queue_position(third)) == (1, 2)
    store.stop(third)  # a queued job is simply dropped
    assert store.status(third) == "stopped"
    store.stop(first)
    wait_for(lambda: store.status(second) in ("running", "finished"))
    wait_for(lambda: store.status(second) == "finished")
    assert store.status(third) == "stopped"


def test_restart_finds_and_reattaches_the_job(store, tmp_path):
    out = tmp_path / "run"
    job = store.submit("train", config(out), out)
    wait_for(lambda: store.progress(job) > 0)
    store.close()
    store._children.clear()  # what a new app process knows: the database only
    again = JobStore(tmp_path / "jobs.sqlite", command=fake_command, stop_grace_s=3.0, monitor_interval_s=0.2)
    try:
        assert again.status(job) == "running"
        before = again.progress(job)
        wait_for(lambda: again.progress(job) > before)  # the same process goes on
        again.stop(job)
        wait_for(lambda: again.status(job) == "stopped", timeout=10)
    finally:
        again.close()


def test_dead_process_is_marked_on_restart(tmp_path):
    db = tmp_path / "jobs.sqlite"
    first = JobStore(db, command=fake_command, monitor_interval_s=None)
    out = tmp_path / "run"
    job = first.submit("train", config(out), out)
    pid = first.get(job)["pid"]
    import os
    import signal

    os.killpg(pid, signal.SIGKILL)  # the machine "crashed": no exit code written
    first._children[pid].wait()
    first._children.clear()
    again = JobStore(db, command=fake_command, monitor_interval_s=None)
    assert again.status(job) == "failed"
    assert "without an exit code" in again.get(job)["message"]


def test_stubborn_job_is_killed_after_the_grace_period(tmp_path):
    def ignores_stop(kind, config_path):
        return [sys.executable, "-c", "import time; print('busy', flush=True); time.sleep(60)"]

    s = JobStore(tmp_path / "jobs.sqlite", command=ignores_stop, stop_grace_s=0.5, monitor_interval_s=0.1)
    try:
        job = s.submit("train", "output_dir: x\n", tmp_path / "x")
        wait_for(lambda: "busy" in s.logs(job))
        s.stop(job)
        wait_for(lambda: s.status(job) == "stopped", timeout=10)
    finally:
        s.close()


def test_finished_runs_are_offered_as_scorers(store, tmp_path):
    from studio.state import Settings, scorer_choices

    runs = tmp_path / "runs"
    job = store.submit("train", config(runs / "tiny", steps=2, step_seconds=0.01), runs / "tiny")
    wait_for(lambda: store.status(job) == "finished")
    choices = scorer_choices(Settings(runs_dir=runs, scorer="classic"))
    assert choices[0] == "classic" and f"edithf:{runs / 'tiny' / 'best'}" in choices and "dummy" in choices


def test_real_tiny_training_job_is_stopped_cooperatively(demo_dataset, tmp_path):
    """`edithf train` itself, through the store's default command: it logs, then honours STOP
    (saves a checkpoint and exits 0), so the job ends as stopped, not killed."""
    pytest.importorskip("edithf.training.edithf_trainer")
    from studio.jobs import default_command

    out = tmp_path / "tiny"
    cfg = (f"dataset: {demo_dataset}\noutput_dir: {out}\nbackbone: tiny:qwen2_vl\nstages: [pointwise]\n"
           "epochs: [50]\nbatch_size: 4\nlogging_steps: 1\neval_split: ''\nprogress_bar: false\n")
    s = JobStore(tmp_path / "jobs.sqlite", command=default_command, stop_grace_s=60, monitor_interval_s=0.2)
    try:
        job = s.submit("train", cfg, out)
        wait_for(lambda: any("train/loss" in r for r in s.metrics(job)) or s.status(job) == "failed", timeout=120)
        assert s.status(job) == "running", s.logs(job)[-2000:]
        assert 0 < s.progress(job) < 1
        s.stop(job)
        wait_for(lambda: s.status(job) == "stopped", timeout=60)
        assert list(out.glob("checkpoint-*")), "a stopped run leaves a checkpoint to resume from"
        assert s.get(job)["returncode"] == 0, s.logs(job)[-2000:]  # it exited by itself
    finally:
        s.close()


def test_a_second_job_into_the_same_folder_is_refused(store, tmp_path):
    from studio.jobs import OutputDirInUse

    out = tmp_path / "run"
    first = store.submit("train", config(out), out)
    (out / "STOP").write_text("the running job's own flag")
    with pytest.raises(OutputDirInUse, match=f"job #{first} .*already writes into"):
        store.submit("train", config(out), out)
    assert (out / "STOP").exists()  # the refused launch touched nothing there
    wait_for(lambda: store.status(first) in ("stopped", "finished"), timeout=30)
    again = store.submit("train", config(out, steps=2, step_seconds=0.01), out)  # a finished folder: resumable
    wait_for(lambda: store.status(again) == "finished")


def test_log_tail_is_the_end_with_progress_redraws_collapsed(store, tmp_path):
    out = tmp_path / "run"
    job = store.submit("train", config(out, steps=1, step_seconds=0.01), out)
    wait_for(lambda: store.status(job) == "finished")
    log = Path(store.get(job)["log_path"])
    bar = "".join(f"\rDPO: {i:3d}%|" for i in range(0, 101, 10))
    log.write_text("".join(f"line {i}\n" for i in range(100)) + bar + "\nLoRA written\n")
    tail = store.logs(job, max_lines=3)
    assert tail.splitlines() == ["line 99", "DPO: 100%|", "LoRA written"]
    assert "\r" not in store.logs(job) and store.logs(job, max_chars=30).splitlines()[-1] == "LoRA written"


def test_a_finished_run_that_did_not_learn_says_so(store, tmp_path):
    from edithf.runs import write_warnings
    from studio.tabs.jobs_panel import job_view, jobs_table

    out = tmp_path / "run"
    job = store.submit("dpo", config(out, steps=2, step_seconds=0.01), out)
    wait_for(lambda: store.status(job) == "finished")
    write_warnings(out, ["loss stayed at log 2 (0.6931)", "the saved LoRA is all zeros"])
    _, info, head, *_ = job_view(store, "dpo", job)
    assert "finished — did not learn: loss stayed at log 2" in head and "100%" not in head
    assert info["warnings"] == store.warnings(job)
    row = jobs_table(store).iloc[0]
    assert row["status"] == "finished — did not learn" and "all zeros" in row["message"]


# -- the form: config values as the browser sends them ---------------------------------------
def dpo_form(**overrides):
    from edithf.config import describe_fields
    from edithf.dpo.dpo_config import DPOConfig
    from studio.forms import form_values

    names = [r["name"] for r in describe_fields(DPOConfig)]
    return DPOConfig, names, form_values(DPOConfig, overrides)


@pytest.mark.parametrize("sent", [None, "", "  ", 0, 0.0])
def test_empty_auto_numbers_stay_auto_whatever_the_browser_sends(sent):
    from studio.forms import values_to_config

    cls, names, values = dpo_form()
    for name in ("beta", "lora_alpha"):
        values[names.index(name)] = sent
    cfg = values_to_config(cls, names, values)
    assert cfg.beta is None and cfg.lora_alpha is None


def test_a_typed_zero_beta_or_lora_alpha_is_refused_and_a_value_kept():
    from edithf.config import ConfigError
    from studio.forms import values_to_config

    for name in ("beta", "lora_alpha"):  # typed: a run that would learn nothing, refused at submit
        cls, names, values = dpo_form(**{name: "0"})
        with pytest.raises(ConfigError, match=name):
            values_to_config(cls, names, values)
    cls, names, values = dpo_form(beta="250", lora_alpha=" 8 ")
    cfg = values_to_config(cls, names, values)
    assert (cfg.beta, cfg.lora_alpha) == (250.0, 8.0)


@pytest.mark.parametrize("typed", ["to_q, to_k, to_v, to_out.0", " to_q ,to_k,, to_v , to_out.0 ",
                                   "[to_q, ' to_k', to_v, to_out.0]"])
def test_list_items_are_stripped(typed):
    from edithf.config import load_config
    from edithf.dpo.dpo_config import DPOConfig
    from studio.forms import values_to_config

    want = ["to_q", "to_k", "to_v", "to_out.0"]
    cls, names, values = dpo_form()
    values[names.index("lora_targets")] = typed
    assert values_to_config(cls, names, values).lora_targets == want
    assert load_config(DPOConfig, overrides=[f"lora_targets={typed}"]).lora_targets == want


def test_presets_fill_the_form_as_the_command_line_reads_them():
    from edithf.config import load_config
    from edithf.dpo.dpo_config import DPOConfig
    from edithf.training.train_config import TrainConfig
    from studio.forms import values_to_config
    from studio.launch_checks import CONFIGS_DIR
    from studio.tabs.jobs_panel import preset_choices, preset_values

    assert "train_demo.yaml" in preset_choices(TrainConfig) and "dpo_tiny_qwen_image_edit.yaml" not in preset_choices(TrainConfig)
    assert "dpo_tiny_qwen_image_edit.yaml" in preset_choices(DPOConfig)
    for cls, name in ((TrainConfig, "train_demo.yaml"), (DPOConfig, "dpo_tiny_flux_kontext.yaml")):
        from edithf.config import describe_fields
        from studio.forms import form_values

        names = [r["name"] for r in describe_fields(cls)]
        via_form = values_to_config(cls, names, form_values(cls, preset_values(cls, CONFIGS_DIR / name)))
        assert via_form == load_config(cls, CONFIGS_DIR / name)


# -- what a launch from the browser may name --------------------------------------------------
@pytest.fixture
def paths(tmp_path):
    from studio.launch_checks import RunPaths

    (tmp_path / "runs").mkdir()
    (tmp_path / "data").mkdir()
    return RunPaths(tmp_path / "runs", [tmp_path / "data"])


def test_run_folders_live_under_the_runs_folder(paths, tmp_path):
    from edithf.config import ConfigError

    assert paths.written("output_dir", "my-run") == (tmp_path / "runs" / "my-run").resolve()
    assert paths.written("output_dir", str(tmp_path / "runs" / "a" / "b")) == (tmp_path / "runs" / "a" / "b").resolve()
    for bad in (str(tmp_path / "elsewhere"), "../escape", str(tmp_path / "runs"), "/etc"):
        with pytest.raises(ConfigError, match="outside the runs folder"):
            paths.written("output_dir", bad)


def test_read_paths_are_checked_and_hub_ids_pass(paths, tmp_path):
    from edithf.config import ConfigError

    assert paths.read("dataset", str(tmp_path / "data" / "x")) == str((tmp_path / "data" / "x").resolve())
    assert paths.read("pairs", str(tmp_path / "runs" / "toy" / "pairs.parquet")).endswith("toy/pairs.parquet")
    for name, value in (("backbone", "Qwen/Qwen2-VL-2B-Instruct"), ("pipeline", "tiny:qwen_image_edit"),
                        ("resume", "auto"), ("init_from", "")):
        assert paths.read(name, value) == value
    for name, value in (("dataset", "/etc"), ("pipeline", "/etc"), ("init_from", str(tmp_path)),
                        ("resume", "/tmp/../etc"), ("pairs", "Qwen/Qwen2-VL")):
        with pytest.raises(ConfigError, match=f"{name} .* outside"):
            paths.read(name, value)


def test_a_refused_read_path_lists_each_allowed_folder_once(tmp_path):
    from edithf.config import ConfigError
    from studio.launch_checks import CONFIGS_DIR, RunPaths

    runs, data = tmp_path / "runs", tmp_path / "data"
    paths = RunPaths(runs, [data, runs, data / "demo", CONFIGS_DIR])  # as the studio's roots overlap
    with pytest.raises(ConfigError) as refused:
        paths.read("pairs", "/etc/pairs.parquet")
    listed = str(refused.value).split("(", 1)[1].split(")", 1)[0].split(", ")
    assert listed == [str(runs.resolve()), str(data.resolve()), str(CONFIGS_DIR)]
    assert "EDITHF_DATA_ROOTS" in str(refused.value)  # how to add a folder


def test_metrics_plot_gives_each_quantity_its_own_axis():
    from studio.tabs.jobs_panel import metrics_figure

    rows = [{"step": s, "stage": stage, "train/loss": 1.0 / s, "train/lr": 1e-4, "progress": s / 20}
            for stage, steps in (("textual", range(1, 6)), ("pointwise", range(6, 21))) for s in steps]
    rows += [{"step": 10, "stage": "pointwise", "eval/srcc_quality": 0.5, "eval/srcc_alignment": 0.4,
              "eval/rmse_quality": 30.0, "progress": 0.5},
             {"step": 20, "event": "done", "best_step": 44, "best_metric": 0.5, "progress": 1.0}]
    fig = metrics_figure(rows)
    axis_of = {t.name: t.yaxis for t in fig.data}
    assert {axis_of["textual loss"], axis_of["pointwise loss"]} == {"y"}
    assert axis_of["SRCC quality"] == axis_of["SRCC alignment"] == "y2" and axis_of["lr (LoRA)"] == "y3"
    assert not any("rmse" in t.name or "best" in t.name for t in fig.data)  # other scales stay off these axes
    assert sum(1 for t in fig.data if t.showlegend is not False) <= 8

    dpo = [{"step": s, "stage": "dpo", "train/loss": 0.69 - 0.001 * s, "train/implicit_acc": 1.0,
            "train/reward_margin": 0.01 * s, "train/lr": 1e-3, "progress": s / 5} for s in range(1, 6)]
    fig = metrics_figure(dpo)
    names = {t.name for t in fig.data}
    assert {"dpo loss", "implicit accuracy", "reward margin", "lr"} <= names
    assert any(abs(shape.y0 - 0.693147) < 1e-5 for shape in fig.layout.shapes)  # the log 2 line


def test_metrics_plot_marks_each_empty_panel_in_that_panel():
    """Only the loss logged so far: 'not logged yet' sits in the eval and learning-rate panels,
    not stacked over the loss curve."""
    from studio.tabs.jobs_panel import metrics_figure

    fig = metrics_figure([{"step": s, "train/loss": 1.0 / s, "progress": s / 10} for s in range(1, 6)])
    marks = [(a.xref, a.yref) for a in fig.layout.annotations if a.text == "not logged yet"]
    assert marks == [("x2 domain", "y2 domain"), ("x3 domain", "y3 domain")]


def test_pairs_are_built_from_the_dpo_tab(demo_dataset, tmp_path):
    from types import SimpleNamespace

    from edithf.dpo.pairs_data import load_pairs
    from studio.state import Settings
    from studio.tabs.dpo import dataset_pairs, toy_pairs

    ctx = SimpleNamespace(settings=Settings(runs_dir=tmp_path / "runs"), dataset_path=lambda: demo_dataset)
    for table, message in (toy_pairs(ctx), dataset_pairs(ctx, "overall")):
        assert Path(table).parent.parent == (tmp_path / "runs").resolve() and table in message
        assert len(load_pairs(table)) > 0  # what the DPO trainer reads


def test_evaluating_a_run_outside_the_runs_folder_is_refused(tmp_path):
    import gradio as gr
    from types import SimpleNamespace

    from studio.state import Settings
    from studio.tabs.dpo import evaluate_run

    ctx = SimpleNamespace(settings=Settings(runs_dir=tmp_path / "runs", dataset=""),
                          loader=SimpleNamespace(ready=False, path=None), dataset_roots=lambda: [])
    with pytest.raises(gr.Error, match="outside the runs folder"):
        evaluate_run(ctx, str(tmp_path / "elsewhere"), "dummy", 1, 1)


def test_a_bad_uploaded_preset_is_named_by_its_file_and_logged_in_one_line(tmp_path, capsys):
    import gradio as gr
    from types import SimpleNamespace

    from edithf.dpo.dpo_config import DPOConfig
    from studio.state import Settings
    from studio.tabs.jobs_panel import load_preset

    ctx = SimpleNamespace(settings=Settings(runs_dir=tmp_path / "runs", dataset=""),
                          loader=SimpleNamespace(ready=False, path=None), dataset_roots=lambda: [])
    upload = tmp_path / "gradio-tmp-4f3a9c" / "my_dpo.yaml"
    upload.parent.mkdir()
    upload.write_text("pipeline: tiny:qwen_image_edit\nlearning_rate: 1e-3\n")
    with pytest.raises(gr.Error) as err:
        load_preset(ctx, DPOConfig, upload, upload.name)
    assert "preset my_dpo.yaml" in err.value.message and "learning_rate" in err.value.message
    assert "gradio-tmp" not in err.value.message and err.value.print_exception is False
    logged = [line for line in capsys.readouterr().out.splitlines() if "refused" in line]
    assert len(logged) == 1 and "my_dpo.yaml" in logged[0]

    upload.write_text("pipeline: tiny:flux_kontext\npairs: runs/toy_pairs/pairs.parquet\nmax_steps: 7\n")
    *values, message = load_preset(ctx, DPOConfig, upload, upload.name)
    assert "Loaded **my_dpo.yaml**" in message and str((tmp_path / "runs" / "toy_pairs").resolve()) in message


def test_a_panel_with_nothing_logged_says_so():
    from studio.tabs.jobs_panel import metrics_figure

    fig = metrics_figure([{"step": s, "stage": "pointwise", "train/loss": 1.0 / s} for s in range(1, 4)])
    assert [a.text for a in fig.layout.annotations].count("not logged yet") == 2  # eval and lr


def test_traversal_symlinks_and_lookalike_folders_stay_outside(paths, tmp_path):
    """`..`, a symlink inside the runs folder to elsewhere and a sibling whose name starts like the
    runs folder (runs-evil) are all outside it; the same for the read folders."""
    from edithf.config import ConfigError

    runs = tmp_path / "runs"
    for folder in ("outside", "runs-evil", "data-evil"):
        (tmp_path / folder).mkdir()
    (runs / "link").symlink_to(tmp_path / "outside")
    (tmp_path / "data" / "link").symlink_to(tmp_path / "outside")
    for bad in ("runs/../../etc/x", "link/x", str(runs / "link" / "x"), str(tmp_path / "runs-evil" / "x"),
                f"{runs}/../runs-evil/x"):
        with pytest.raises(ConfigError, match="outside the runs folder"):
            paths.written("output_dir", bad)
    for bad in (str(tmp_path / "data" / "link"), str(tmp_path / "data-evil"), f"{tmp_path}/data/../outside"):
        with pytest.raises(ConfigError, match="dataset .* outside"):
            paths.read("dataset", bad)
