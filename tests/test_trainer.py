"""The EditHF trainer: it learns, trains only LoRA + head, saves loadable models, resumes a
killed run exactly, stops on request, and rejects bad configs and data clearly.

Tiny backbone, a 16-edit dataset built here (tests/trainer_data.py), one thread (the CI
machine has two cores shared by everything).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from edithf.config import ConfigError, load_config
from edithf.training import losses
from edithf.training.data import EpochSampler, curriculum_order
from edithf.runs import STOP_NAME, read_warnings
from edithf.training.edithf_trainer import EditHFTrainer
from edithf.training.train_config import TrainConfig
from trainer_data import build_tiny_dataset

TINY_YAML = Path(__file__).resolve().parents[1] / "configs" / "train_tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    # 4 groups of 4 edits: train 8 edits (36 pairs), val 4, test 4
    return build_tiny_dataset(tmp_path_factory.mktemp("trainer") / "tiny", n_groups=4, per_group=4)


def make_cfg(data: Path, out: Path, **overrides) -> TrainConfig:
    values = dict(dataset=str(data), output_dir=str(out), backbone="tiny:qwen2_vl", lora_r=4, lora_alpha=8,
                  lora_dropout=0.0, batch_size=4, lr=2e-3, head_lr=1e-3, warmup=0, lr_schedule="constant",
                  progress_bar=False, logging_steps=1, seed=0)
    return load_config(TrainConfig, None, {**values, **overrides})


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def trainable_state(model) -> dict:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


# --------------------------------------------------------------------------- pure functions
def test_losses_match_their_formulas():
    s_w, s_l = torch.tensor([0.9, 0.2]), torch.tensor([0.1, 0.6])
    bt = losses.pairwise_loss(s_w, s_l, "bt", scale=10.0)
    expected = np.mean([np.log1p(np.exp(-10 * 0.8)), np.log1p(np.exp(-10 * -0.4))])
    assert bt.item() == pytest.approx(expected, rel=1e-5)
    assert losses.pairwise_loss(s_w, s_l, "margin", margin=0.1).item() == pytest.approx((0 + 0.5) / 2)
    scores, mos01 = torch.tensor([[0.5, 0.2]]), torch.tensor([[0.7, float("nan")]])
    assert losses.pointwise_loss(scores, mos01).item() == pytest.approx(0.04)  # NaN dimension masked
    logits = torch.zeros(1, 2, 5)
    levels = torch.tensor([[3, losses.IGNORE_LEVEL]])
    assert losses.textual_loss(logits, levels).item() == pytest.approx(np.log(5))
    with pytest.raises(ValueError, match="no edit in this batch has a MOS"):
        losses.pointwise_loss(scores, torch.full((1, 2), float("nan")))


def test_curriculum_orders_pairs_by_rank_gap():
    gaps = np.array([1, 3, 2, 3, 1, 2, 1, 3, 2], dtype=float)
    rng = np.random.default_rng(0)
    order = curriculum_order(gaps, "sorted", 3, rng)
    assert sorted(order) == list(range(9)) and list(gaps[order]) == sorted(gaps, reverse=True)
    order = curriculum_order(gaps, "buckets", 3, rng)
    assert [set(gaps[order[i:i + 3]]) for i in (0, 3, 6)] == [{3.0}, {2.0}, {1.0}]
    assert sorted(curriculum_order(gaps, "none", 3, rng)) == list(range(9))
    # pairs_per_epoch: a fresh subset each epoch, still large gaps first, the same on a re-run
    sampler = EpochSampler(9, seed=1, gaps=gaps, mode="sorted", per_epoch=4)
    epochs = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert len(sampler) == 4 and all(len(set(e)) == 4 for e in epochs)
    assert all(list(gaps[e]) == sorted(gaps[e], reverse=True) for e in epochs)
    assert epochs[0] == epochs[2] and epochs[0] != epochs[1]


# --------------------------------------------------------------------------- config and data errors
def test_bad_config_is_rejected_with_a_clear_message(tiny_data, tmp_path):
    with pytest.raises(ConfigError, match="unknown key.*learning_rate"):
        load_config(TrainConfig, None, {"learning_rate": "1e-3"})
    with pytest.raises(ConfigError, match="stages"):
        load_config(TrainConfig, None, ["stages=[pointwise,ranking]"])
    with pytest.raises(ConfigError, match="epochs"):
        load_config(TrainConfig, None, ["stages=[textual,pointwise]", "epochs=[1,2,3]"])
    with pytest.raises(ConfigError, match="pairwise_loss"):
        load_config(TrainConfig, None, ["pairwise_loss=hinge"])
    with pytest.raises(ConfigError, match="batch_size: cannot read"):
        load_config(TrainConfig, None, ["batch_size=eight"])
    with pytest.raises(ConfigError, match="metric_for_best"):
        EditHFTrainer(make_cfg(tiny_data, tmp_path / "r", metric_for_best="eval/accuracy")).train()


def _variant(src: Path, dst: Path, edits=None, pairs: bool = True) -> Path:
    from edithf.data.dataset import load_dataset

    ds = load_dataset(src)
    dst.mkdir(parents=True)
    (dst / "images").symlink_to(src / "images")
    (edits(ds.edits) if edits else ds.edits).to_parquet(dst / "edits.parquet", index=False)
    if pairs:
        ds.pairs.to_parquet(dst / "pairs.parquet", index=False)
    return dst


def test_data_problems_are_named_before_any_model_is_built(tiny_data, tmp_path):
    no_mos = _variant(tiny_data, tmp_path / "no_mos", edits=lambda e: e.drop(columns=[c for c in e if "mos_" in c]))
    no_pairs = _variant(tiny_data, tmp_path / "no_pairs", pairs=False)
    no_val = _variant(tiny_data, tmp_path / "no_val", edits=lambda e: e.assign(split=e["split"].replace("val", "test")))
    cases = [
        (make_cfg(tmp_path / "missing", tmp_path / "r1"), FileNotFoundError, "dataset folder not found"),
        (make_cfg(no_mos, tmp_path / "r2", stages=["pointwise"]), ValueError, "stage pointwise needs MOS"),
        (make_cfg(no_pairs, tmp_path / "r3", stages=["pairwise"]), ValueError, "stage pairwise needs preference pairs"),
        (make_cfg(no_val, tmp_path / "r4"), ValueError, "split 'val' .* has no edits"),
        (make_cfg(tiny_data, tmp_path / "r5", dataset=""), ConfigError, "dataset is empty"),
    ]
    for cfg, error, message in cases:
        trainer = EditHFTrainer(cfg)
        with pytest.raises(error, match=message):
            trainer.train()
        assert not hasattr(trainer, "core")  # failed before building the model


# --------------------------------------------------------------------------- it learns
def test_three_stages_learn_train_only_lora_and_head_and_save_a_loadable_best(tiny_data, tmp_path):
    from edithf.evaluators.registry import create_evaluator
    from edithf.models.edithf_config import EditHFConfig
    from edithf.models.edithf_model import EditHFModel

    out = tmp_path / "run"
    # batch 8: one step per epoch over the 8 train edits, so each epoch's loss is the loss of the
    # whole train set; the 36 pairs take 5 steps per epoch
    cfg = make_cfg(tiny_data, out, batch_size=8, epochs=[4, 4, 2])
    trainer = EditHFTrainer(cfg)
    result = trainer.train()
    log = read_log(out)

    # every stage's training loss falls from its first epoch to its last
    train = pd.DataFrame([r for r in log if "train/loss" in r])
    for stage, part in train.groupby("stage"):
        epoch = np.ceil(part["epoch"].to_numpy() - 1e-9)
        first, last = part["train/loss"][epoch == epoch.min()].mean(), part["train/loss"][epoch == epoch.max()].mean()
        assert last < first, f"{stage}: loss {first:.4f} -> {last:.4f}"
    assert list(train["stage"].drop_duplicates()) == ["textual", "pointwise", "pairwise"]

    # the metrics log: evaluation every epoch (10), progress monotonic up to 1, a closing line
    evals = [r for r in log if "eval/srcc_quality" in r]
    assert len(evals) == 10 and all("eval/pair_acc_alignment" in r for r in evals)
    progress = [r["progress"] for r in log]
    assert progress == sorted(progress) and progress[-1] == 1.0 and log[-1]["event"] == "done"
    best = max(r["eval/srcc_mean"] for r in evals)
    assert result["best_metric"] == pytest.approx(best) and result["stopped"] is False
    assert (out / "config.yaml").exists() and load_config(TrainConfig, out / "config.yaml") == cfg

    # only LoRA and head moved; the frozen base is bit-identical to a fresh build (same seed)
    from accelerate.utils import set_seed

    set_seed(cfg.seed)
    fresh = EditHFModel.from_config(EditHFConfig(**cfg.model_overrides()), device="cpu")
    before, after = dict(fresh.named_parameters()), dict(trainer.core.named_parameters())
    groups = trainer.core.parameter_groups()
    assert groups["lora"] and groups["head"]
    for name, p in after.items():
        if p.requires_grad:
            assert not torch.equal(p.detach(), before[name].detach()), f"{name} did not train"
        else:
            assert torch.equal(p.detach(), before[name].detach()), f"frozen {name} changed"

    # level words and expected score share one definition: five bins of the train MOS min-max
    from edithf.data.dataset import load_dataset as _load

    train_mos = _load(tiny_data).split("train").edits
    loaded = EditHFModel.from_pretrained(str(out / "best"), device="cpu")
    for d, dim in enumerate(loaded.cfg.dimensions):
        lo, hi = train_mos[f"mos_{dim}"].min(), train_mos[f"mos_{dim}"].max()
        assert loaded.cfg.level_ranges[d] == pytest.approx([lo, hi])
        centres = [(lo + (k + 0.5) * (hi - lo) / 5) / 100 for k in range(5)]  # [0, 1] units of 0-100
        np.testing.assert_allclose(loaded.level_values[d].numpy(), centres, rtol=1e-5)

    # best/ is an EditHF model folder that the registry loads as a scorer
    scorer = create_evaluator(f"edithf:{out / 'best'}")
    from edithf.data.dataset import load_dataset

    src, ed, prompts = load_dataset(tiny_data).triples()
    scores = scorer.score(src, ed, prompts)[["quality", "alignment", "preservation"]].to_numpy()
    assert np.all((scores >= 0) & (scores <= 100))
    # the three dimensions are genuinely different functions of the edit
    assert not np.allclose(scores[:, 0], scores[:, 1]) and not np.allclose(scores[:, 1], scores[:, 2])
    assert abs(np.corrcoef(scores[:, 0], scores[:, 2])[0, 1]) < 0.999


# --------------------------------------------------------------------------- stop, kill, resume
def test_stop_kill_and_resume_reproduce_an_uninterrupted_run(tiny_data, tmp_path):
    """Uninterrupted run U vs run I: stopped by a STOP file at step 3 (inside epoch 0),
    resumed, killed by an exception at step 7 (last checkpoint: 6, inside epoch 1), resumed
    again. I must end exactly where U ends (12 steps: 3 epochs of 4 batches)."""
    from edithf.models.edithf_model import EditHFModel

    common = dict(stages=["pointwise"], epochs=3, batch_size=2, eval_split="", save_every=2, save_total_limit=2)
    full = EditHFTrainer(make_cfg(tiny_data, tmp_path / "u", **common))
    full_result = full.train()
    assert full_result["step"] == 12

    out = tmp_path / "i"

    def stop_file_at_3(step, logs):
        if step == 3:
            (out / STOP_NAME).touch()

    def kill_at_7(step, logs):
        if step == 7:
            raise RuntimeError("simulated kill")

    stopped = EditHFTrainer(make_cfg(tiny_data, out, **common), callbacks=[stop_file_at_3]).train()
    assert stopped["stopped"] and stopped["step"] == 3 and (out / "checkpoint-3").is_dir()
    assert read_log(out)[-1]["event"] == "stopped"
    with pytest.raises(RuntimeError, match="simulated kill"):
        EditHFTrainer(make_cfg(tiny_data, out, **common), callbacks=[kill_at_7]).train()  # resumes at 3, dies at 7
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-6"]

    resumed = EditHFTrainer(make_cfg(tiny_data, out, **common))
    result = resumed.train()
    assert result["step"] == 12 and not result["stopped"]
    steps = [r["step"] for r in read_log(out) if "train/loss" in r]
    assert steps == list(range(1, 13))  # lines after the checkpoint were dropped, then re-logged once

    a, b = trainable_state(full.core), trainable_state(resumed.core)
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)

    # save -> load gives identical scores (no eval split: best/ is the final model)
    from edithf.data.dataset import load_dataset

    src, ed, prompts = load_dataset(tiny_data).split("val").triples()
    loaded = EditHFModel.from_pretrained(str(out / "best"), device="cpu")
    from edithf.data.images import load_image

    imgs = [load_image(p) for p in src], [load_image(p) for p in ed]
    np.testing.assert_array_equal(resumed.core.score(*imgs, prompts), loaded.score(*imgs, prompts))

    with pytest.raises(ValueError, match="resume=never"):
        EditHFTrainer(make_cfg(tiny_data, out, resume="never", **common)).train()


def test_a_run_killed_before_its_first_checkpoint_leaves_no_rows(tiny_data, tmp_path):
    """The rerun starts fresh: the killed attempt's rows are dropped, so each step is logged once."""
    common = dict(stages=["pointwise"], epochs=2, batch_size=2, eval_split="", save_every=100, logging_steps=1)
    out = tmp_path / "r"

    def kill_at_6(step, logs):
        if step == 6:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        EditHFTrainer(make_cfg(tiny_data, out, **common), callbacks=[kill_at_6]).train()
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4, 5, 6] and not list(out.glob("checkpoint-*"))
    EditHFTrainer(make_cfg(tiny_data, out, **common)).train()
    assert [r["step"] for r in read_log(out) if "train/loss" in r] == list(range(1, 9))


def test_a_callback_stops_the_run_and_the_caller_config_is_untouched(tiny_data, tmp_path):
    cfg = make_cfg(tiny_data, tmp_path / "c", stages=["pointwise"], epochs=2, batch_size=2, eval_split="")
    before = repr(cfg)
    seen = []
    stop_at_2 = lambda step, logs: seen.append((step, logs["train/loss"])) or step == 2
    result = EditHFTrainer(cfg, callbacks=[stop_at_2]).train()
    assert result["stopped"] and result["step"] == 2 and [s for s, _ in seen] == [1, 2]
    assert all(np.isfinite(loss) for _, loss in seen) and repr(cfg) == before


def test_a_run_that_changes_no_weight_finishes_with_a_warning(tiny_data, tmp_path, capsys):
    """textual stage with lr=0: the LoRA does not move and the head gets no gradient."""
    out = tmp_path / "w"
    EditHFTrainer(make_cfg(tiny_data, out, stages=["textual"], lr=0.0, batch_size=2, eval_split="")).train()
    assert any("no trainable weight" in w for w in read_warnings(out))
    assert "did not learn" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="lr and head_lr are both 0"):
        make_cfg(tiny_data, out, lr=0.0, head_lr=0.0)


# --------------------------------------------------------------------------- command line
def test_command_prints_the_resolved_config_and_reports_bad_keys(tiny_data, capsys):
    from edithf.cli import main

    assert main(["train", str(TINY_YAML), f"dataset={tiny_data}", "lr=5e-4", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "lr: 0.0005" in printed and f"dataset: {tiny_data}" in printed and "stages:" in printed
    assert main(["train", str(TINY_YAML), "learnig_rate=1"]) == 1
    assert "unknown key(s) for TrainConfig: ['learnig_rate']" in capsys.readouterr().err
    assert main(["train", "--list-fields"]) == 0 and "curriculum" in capsys.readouterr().out
