"""Browser tests of the Train and DPO tabs, written the way a user clicks: load a preset, open
every section of the form, build pairs, launch, read the page and the run folder.

One studio runs fake jobs (tests/studio_fake_job.py: the queue and stop protocol without a
model); another runs real `edithf dpo` jobs (a tiny pipeline, 30 steps on the toy pairs; the
DPO test with its evaluation took 69 s on the project's 2 shared cores:
`pytest tests/test_studio_e2e_jobs.py -k dpo`). Saves docs/screenshots/train.png and dpo.png.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from conftest import running_studio
# The browser fixtures and helpers; importing them also skips this module without chromium.
from test_studio_e2e import browser, error_toast, expect, open_tab, page, pick, shot  # noqa: F401

pytestmark = pytest.mark.e2e

DPO_TIMEOUT_MS = 240_000
DPO_STEPS = 30


@pytest.fixture(scope="module")
def fake_jobs(demo_dataset, tmp_path_factory):
    with running_studio(demo_dataset, tmp_path_factory.mktemp("studio-e2e-jobs")) as (_, url, jobs):
        yield url, jobs


@pytest.fixture(scope="module")
def real_jobs(demo_dataset, tmp_path_factory):
    from studio.jobs import default_command

    with running_studio(demo_dataset, tmp_path_factory.mktemp("studio-e2e-dpo"), command=default_command) as (
            _, url, jobs):
        yield url, jobs


def field(page, name: str, kind: str = "textarea"):
    return page.locator(f"#field-{name} {kind}")


def open_every_section(page):
    """Click every closed accordion of the form open (the browser then sends every field)."""
    closed = page.locator(".config-group button.label-wrap:not(.open)")
    while closed.count():
        closed.first.click()
    expect(page.locator(".config-group button.label-wrap:not(.open)")).to_have_count(0)


def close_every_section(page):
    """Fold the form again (a screenshot of the run, not of 50 fields)."""
    opened = page.locator(".config-group button.label-wrap.open")
    while opened.count():
        opened.first.click()


def test_training_jobs_queue_stop_and_refusals(page, fake_jobs, tmp_path):
    url, jobs = fake_jobs
    open_tab(page, url, "train")
    field(page, "output_dir").fill(str(tmp_path / "outside"))
    page.locator("#train-launch").click()
    error_toast(page, "outside the runs folder")
    field(page, "output_dir").fill("run")  # a plain name: a folder inside the runs folder
    page.locator("#train-preview").click()
    expect(page.locator("#train-yaml")).to_contain_text(re.compile(r"output_dir: .*runs/run"))
    page.locator("#train-launch").click()
    expect(page.locator("#train-message")).to_contain_text("started")
    expect(page.locator("#train-logs textarea")).to_have_value(re.compile("step \\d+ loss"))
    expect(page.locator("#train-plot .legendtext", has_text="SRCC quality")).to_have_count(1)  # an evaluation logged
    shot(page, "train")  # the form, its YAML, the message and the plot all of this one job
    page.locator("#train-launch").click()  # the same folder while that job runs
    error_toast(page, "already writes into")
    field(page, "output_dir").fill("run2")
    page.locator("#train-launch").click()
    expect(page.locator("#train-message")).to_contain_text("queued")
    expect(page.locator("#train-progress")).to_contain_text("queue")
    page.locator("#train-stop").click()  # the followed job: the queued one, dropped
    expect(page.locator("#train-progress")).to_contain_text("stopped")
    pick(page, "train-job", "run (")
    expect(page.locator("#train-progress")).to_contain_text(re.compile(r"job #\d+ · running"))
    expect(page.locator("#train-plot .js-plotly-plot")).to_be_visible()
    page.locator("#train-stop").click()
    expect(page.locator("#train-progress")).to_contain_text("stopped")
    assert not (tmp_path / "outside").exists()


def test_train_preset_fills_the_form(page, fake_jobs, tmp_path):
    url, _ = fake_jobs
    open_tab(page, url, "train")
    mine = tmp_path / "my_train.yaml"
    mine.write_text("lora_r: 4\nepochs: [2]\n")
    upload = page.locator("#train-preset-upload").locator("xpath=..").locator("input[type=file]")
    upload.set_input_files(str(mine))
    expect(page.locator("#train-message")).to_contain_text("Loaded my_train.yaml")
    bad = tmp_path / "bad_train.yaml"
    bad.write_text("lora_rank: 4\n")
    upload.set_input_files(str(bad))
    error_toast(page, "preset bad_train.yaml: unknown key")  # named by the file, not by a temp path
    pick(page, "train-preset", "train_tiny.yaml")
    expect(page.locator("#train-message")).to_contain_text("Loaded configs/train_tiny.yaml")
    open_every_section(page)  # filled while closed: the values are there when a section opens
    expect(field(page, "lora_r", "input")).to_have_value("8")
    expect(field(page, "epochs")).to_have_value("1, 4, 1")
    expect(field(page, "pairs_per_epoch", "input")).to_have_value("640")
    expect(field(page, "output_dir")).to_have_value(re.compile(r"runs/tiny$"))
    page.locator("#train-preview").click()
    expect(page.locator("#train-yaml")).to_contain_text("lr: 0.001")  # the top of the YAML: the box shows its first lines


def test_dpo_tab_defaults_with_every_section_open_learn(page, real_jobs):
    from safetensors.torch import load_file

    url, jobs = real_jobs
    open_tab(page, url, "dpo")
    pick(page, "dpo-preset", "dpo_tiny_qwen_image_edit.yaml")
    expect(page.locator("#dpo-message")).to_contain_text("Loaded configs/dpo_tiny_qwen_image_edit.yaml")
    open_every_section(page)
    expect(field(page, "pipeline")).to_have_value("tiny:qwen_image_edit")
    expect(field(page, "resolution", "input")).to_have_value("32")
    field(page, "pairs").fill("")
    page.locator("#dpo-launch").click()
    error_toast(page, "no pairs table")  # refused at submit, nothing queued
    assert jobs.list() == []
    page.locator("#dpo-toy-pairs").click()
    expect(field(page, "pairs")).to_have_value(re.compile(r"toy_pairs/pairs\.parquet$"))
    expect(field(page, "beta")).to_have_value("")        # auto, left as it is
    expect(field(page, "lora_alpha")).to_have_value("")
    field(page, "max_steps", "input").fill(str(DPO_STEPS))
    field(page, "lora_targets").fill("to_q ,  to_k, to_v , to_out.0")
    page.locator("#dpo-launch").click()
    expect(page.locator("#dpo-message")).to_contain_text("started")
    expect(page.locator("#dpo-progress")).to_contain_text("finished · 100%", timeout=DPO_TIMEOUT_MS)
    expect(page.locator("#dpo-plot .js-plotly-plot")).to_be_visible()
    expect(page.locator("#dpo-logs textarea")).to_have_value(re.compile("LoRA written to"))
    expect(page.locator("#dpo-progress")).not_to_contain_text("did not learn")
    close_every_section(page)
    shot(page, "dpo")

    page.get_by_text("evaluate a finished run as an editor").click()  # the tuned editor, from this tab
    page.locator("#dpo-eval-refresh").click()
    pick(page, "dpo-eval-run", "dpo_tiny_qwen_image_edit")
    pick(page, "dpo-eval-scorer", "dummy")
    page.locator("#dpo-eval-n input").fill("1")
    page.locator("#dpo-eval-steps input").fill("2")
    page.locator("#dpo-eval-run-btn").click()
    expect(page.locator("#dpo-eval-summary")).to_contain_text("tuned", timeout=DPO_TIMEOUT_MS)
    expect(page.locator("#dpo-eval-gallery img")).to_have_count(2)

    out = jobs.list()[0]["output_dir"]
    cfg = yaml.safe_load(open(f"{out}/config.yaml"))
    assert cfg["lora_targets"] == ["to_q", "to_k", "to_v", "to_out.0"]
    assert cfg["beta"] > 0 and cfg["lora_alpha"] in (None, cfg["lora_r"])
    rows = [json.loads(line) for line in open(f"{out}/metrics.jsonl") if '"train/loss"' in line]
    last = [r["train/loss"] for r in rows[-5:]]
    assert len(rows) == DPO_STEPS and sum(last) / len(last) < math.log(2)
    weights = load_file(str(next(Path(out, "best").glob("*.safetensors"))))
    assert len(weights) == 16  # lora_A and lora_B of all 4 targets in each block: no target lost to a space
    assert sum(float(t.abs().sum()) for name, t in weights.items() if "lora_B" in name) > 0
