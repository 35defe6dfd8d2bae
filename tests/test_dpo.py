"""Diffusion-/Flow-DPO of diffusers editing pipelines: tiny random pipelines of all three
families (Qwen-Image-Edit, FLUX.1 Kontext, InstructPix2Pix), built in memory, on CPU."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from edithf.dpo.dpo_config import DPOConfig  # noqa: E402
from edithf.dpo.toy_pairs import PROMPT, make_toy_pairs  # noqa: E402

FAMILIES = ("qwen_image_edit", "flux_kontext", "instruct_pix2pix")
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SIDE = {"qwen_image_edit": 32, "flux_kontext": 16, "instruct_pix2pix": 32}  # the tiny VAEs' sizes


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def toy_pairs(tmp_path_factory):
    return make_toy_pairs(tmp_path_factory.mktemp("toy"), n_sources=3, size=32)


def tiny_config(family, pairs, out, **kw):
    values = dict(pipeline=f"tiny:{family}", pairs=str(pairs), output_dir=str(out), resolution=SIDE[family],
                  lora_r=4, lr=1e-2, batch_size=2, max_steps=3, save_every=100, max_sequence_length=48)
    values.update(kw)
    return DPOConfig(**values)


def metrics(out):
    """The per-step rows of a run's metrics.jsonl (the closing `event` row left out)."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if "train/loss" in r]


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# -- the loss ---------------------------------------------------------------------------------
def test_dpo_loss_against_the_formula():
    from edithf.dpo.dpo_trainer import dpo_loss

    pol = torch.tensor([0.50, 0.90, 0.70, 0.45])      # [chosen x2; rejected x2]
    ref = torch.tensor([0.60, 0.80, 0.60, 0.50])
    beta = 10.0
    loss, m = dpo_loss(pol, ref, beta)
    inside = [-0.5 * beta * ((0.50 - 0.60) - (0.70 - 0.60)), -0.5 * beta * ((0.90 - 0.80) - (0.45 - 0.50))]
    expected = np.mean([math.log1p(math.exp(-x)) for x in inside])
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(m["train/implicit_acc"]) == 0.5      # first pair prefers chosen, second does not
    assert float(m["train/reward_margin"]) == pytest.approx(np.mean(inside), abs=1e-6)


# -- noise schedules ----------------------------------------------------------------------------
def test_timestep_range_and_prediction_type_follow_the_config(toy_pairs):
    from edithf.config import ConfigError
    from edithf.dpo.adapters import make_adapter
    from edithf.dpo.tiny_pipelines import build_tiny_pipeline

    ip2p = make_adapter(build_tiny_pipeline("instruct_pix2pix"), resolution=32)
    auto = ip2p.resolve(tiny_config("instruct_pix2pix", toy_pairs, "unused"))
    assert (auto.prediction_type, auto.timestep_sampling, auto.beta) == ("epsilon", "uniform", 5000.0)
    g = torch.Generator().manual_seed(0)
    low = ip2p.make_schedule(replace_cfg(auto, timestep_max=0.2))
    t = low.sample(512, g)
    assert int(t.min()) >= 0 and int(t.max()) < 200 and int(t.max()) > 150
    x0, noise = torch.randn(3, 4, 4, 4, generator=g), torch.randn(3, 4, 4, 4, generator=g)
    steps = torch.tensor([10, 100, 900])
    v = ip2p.make_schedule(replace_cfg(auto, prediction_type="v_prediction"))
    noisy, target = v.noisy_and_target(x0, noise, steps)
    torch.testing.assert_close(target, v.scheduler.get_velocity(x0, noise, steps))
    assert torch.equal(ip2p.make_schedule(auto).noisy_and_target(x0, noise, steps)[1], noise)

    flux = make_adapter(build_tiny_pipeline("flux_kontext"), resolution=16, max_sequence_length=48)
    flow_cfg = flux.resolve(tiny_config("flux_kontext", toy_pairs, "unused", timestep_min=0.5))
    assert flow_cfg.timestep_sampling == "logit_normal"
    assert float(flux.make_schedule(flow_cfg).sample(256, g).min()) >= 0.5
    with pytest.raises(ConfigError, match="prediction_type=epsilon applies to epsilon / v models"):
        flux.resolve(tiny_config("flux_kontext", toy_pairs, "unused", prediction_type="epsilon"))
    with pytest.raises(ConfigError, match="timestep_min=0.5, timestep_max=0.5"):
        tiny_config("flux_kontext", toy_pairs, "unused", timestep_min=0.5, timestep_max=0.5)


def replace_cfg(cfg, **changes):
    import dataclasses

    return dataclasses.replace(cfg, **changes)


# -- training, per family ---------------------------------------------------------------------
@pytest.fixture(scope="module", params=FAMILIES)
def trained(request, toy_pairs, tmp_path_factory):
    """A tiny pipeline tuned in place for 3 steps, with snapshots of its weights before."""
    from edithf.dpo.dpo_trainer import train_dpo
    from edithf.dpo.tiny_pipelines import build_tiny_pipeline

    family = request.param
    pipe = build_tiny_pipeline(family)
    before = {name: state(m) for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    out = tmp_path_factory.mktemp(f"dpo_{family}")
    best = train_dpo(tiny_config(family, toy_pairs, out), pipeline=pipe)
    return family, pipe, before, out, best


def test_first_step_is_log2_and_then_learns(trained):
    _, _, _, out, _ = trained
    rows = metrics(out)
    first = rows[0]
    # LoRA B starts at zero: the policy is the reference, bit for bit.
    assert first["train/err_policy_chosen"] == first["train/err_ref_chosen"]
    assert first["train/err_policy_rejected"] == first["train/err_ref_rejected"]
    assert first["train/loss"] == pytest.approx(math.log(2), abs=1e-7)
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["progress"] == 1.0
    assert any(r["train/err_policy_chosen"] != r["train/err_ref_chosen"] for r in rows[1:])


def test_only_lora_weights_change(trained):
    _, pipe, before, _, _ = trained
    denoiser_name = "unet" if "unet" in before else "transformer"
    for name, old in before.items():
        module = pipe.components[name]
        if name == denoiser_name:  # LoRA wraps its targets: `x.weight` became `x.base_layer.weight`
            now = {k.replace(".base_layer", ""): v for k, v in module.state_dict().items() if "lora_" not in k}
            lora = {k: v for k, v in module.state_dict().items() if "lora_B" in k}
            assert lora and any(v.abs().sum() > 0 for v in lora.values()), "LoRA B did not move"
        else:
            now = module.state_dict()
        assert now.keys() == old.keys(), name
        assert all(torch.equal(now[k], old[k]) for k in old), f"{name} changed"


def test_saved_lora_loads_into_a_fresh_pipeline_and_changes_it(trained, toy_pairs):
    from edithf.dpo.generate import generate_edits
    from edithf.dpo.tiny_pipelines import build_tiny_pipeline

    family, tuned, _, _, best = trained
    assert (best / "pytorch_lora_weights.safetensors").exists()
    source = toy_pairs.parent / "images" / "000_source.png"
    edit = lambda p: np.asarray(generate_edits(p, [source], [PROMPT], [7], num_inference_steps=3,
                                               area=SIDE[family] ** 2)[0], dtype=np.int16)
    fresh = build_tiny_pipeline(family)
    base = edit(fresh)
    fresh.load_lora_weights(str(best))
    loaded = edit(fresh)
    assert np.abs(loaded - base).max() > 0, "the LoRA does not change the output"
    assert np.abs(loaded - edit(tuned)).max() <= 1, "the loaded LoRA differs from the trained one"


# -- resume, stop, bad input --------------------------------------------------------------------
def lora_tensors(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "pytorch_lora_weights.safetensors"))


def test_killed_run_resumes_from_its_checkpoint(toy_pairs, tmp_path):
    from edithf.dpo.dpo_trainer import train_dpo
    from edithf.runs import list_checkpoints

    straight = train_dpo(tiny_config("flux_kontext", toy_pairs, tmp_path / "straight", max_steps=4))
    out = tmp_path / "killed"

    def kill_at_step_3(step, logs):
        if step == 3:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        train_dpo(tiny_config("flux_kontext", toy_pairs, out, max_steps=4, save_every=2), callbacks=[kill_at_step_3])
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-2"]
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "train/lo')  # a line torn by the kill does not stop the resume
    resumed = train_dpo(tiny_config("flux_kontext", toy_pairs, out, max_steps=4, save_every=2))
    assert [r["step"] for r in metrics(out)] == [1, 2, 3, 4]
    a, b = lora_tensors(straight), lora_tensors(resumed)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_stop_file_stops_after_a_checkpoint_and_the_rerun_continues(toy_pairs, tmp_path, capsys):
    from edithf.cli import main
    from edithf.dpo.dpo_trainer import train_dpo
    from edithf.runs import STOP_NAME

    out = tmp_path / "stopped"
    out.mkdir()
    (out / STOP_NAME).touch()  # stale: removed when the run begins, not honoured
    (out / ".best.abc.tmp").mkdir()  # left by a run killed while saving best/
    cfg = tiny_config("instruct_pix2pix", toy_pairs, out, max_steps=4)
    stop_at_1 = lambda step, logs: (out / STOP_NAME).touch() if step == 1 else None
    train_dpo(cfg, callbacks=[stop_at_1])
    assert [r["step"] for r in metrics(out)] == [1] and not (out / ".best.abc.tmp").exists()
    assert (out / "checkpoint-1" / "trainer_state.json").exists() and (out / "best").is_dir()
    assert cfg.beta is None  # the caller's config is not changed ...
    assert "beta: 5000.0" in (out / "config.yaml").read_text()  # ... the resolved family default is logged
    argv = ["dpo", str(CONFIGS / "dpo_tiny_instruct_pix2pix.yaml"), f"pairs={toy_pairs}", f"output_dir={out}",
            "max_steps=3", "resolution=32", "prediction_type=auto"]
    assert main(argv) == 1  # the YAML's lora_r 8 does not fit the rank-4 checkpoint: a clear error
    assert "does not fit this model (another lora_r or lora_targets?)" in capsys.readouterr().err
    assert main([*argv, "lora_r=4"]) == 0 and [r["step"] for r in metrics(out)] == [1, 2, 3]


def test_a_run_that_cannot_learn_is_refused_or_warned(toy_pairs, tmp_path, capsys):
    from edithf.config import ConfigError
    from edithf.dpo.dpo_trainer import train_dpo
    from edithf.runs import read_warnings

    with pytest.raises(ConfigError, match="beta=0.0: the DPO temperature must be > 0"):
        tiny_config("flux_kontext", toy_pairs, tmp_path / "b", beta=0.0)
    with pytest.raises(ConfigError, match="lora_alpha=0.0: the LoRA scale"):
        tiny_config("flux_kontext", toy_pairs, tmp_path / "a", lora_alpha=0.0)
    out = tmp_path / "lr0"
    train_dpo(tiny_config("flux_kontext", toy_pairs, out, lr=0.0, max_steps=2))
    found = read_warnings(out)
    assert any("stayed at log 2" in w for w in found) and any("lora_B weights are all zero" in w for w in found)
    assert "did not learn" in capsys.readouterr().err


def test_lora_targets_are_stripped_and_each_must_match_a_module(toy_pairs, tmp_path):
    from edithf.config import ConfigError, load_config
    from edithf.dpo.dpo_trainer import train_dpo

    cfg = load_config(DPOConfig, None, {"lora_targets": "to_q, to_k , to_v,to_out.0"})
    assert cfg.lora_targets == ["to_q", "to_k", "to_v", "to_out.0"]
    with pytest.raises(ConfigError, match=r"lora_targets \['to_qq'\] match no module of the transformer"):
        train_dpo(tiny_config("flux_kontext", toy_pairs, tmp_path / "t", lora_targets=["to_q", "to_qq"]))


def test_bad_pairs_give_clear_errors(toy_pairs, tmp_path):
    import pandas as pd
    from PIL import Image

    from edithf.dpo.pairs_data import load_pairs
    from edithf.utils.io import write_table

    good = pd.read_parquet(toy_pairs)
    root = toy_pairs.parent
    with pytest.raises(ValueError, match="no rows"):
        load_pairs(write_table(good.iloc[:0], root / "empty.parquet"))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['rejected'\]"):
        load_pairs(write_table(good.drop(columns="rejected"), root / "nocol.parquet"))
    missing = good.copy()
    missing.loc[1, "chosen"] = "images/nope.png"
    with pytest.raises(FileNotFoundError, match="row 1, column 'chosen'.*nope.png"):
        load_pairs(write_table(missing, root / "missing.csv"))
    Image.new("RGB", (40, 32)).save(root / "images" / "wide.png")
    odd = good.copy()
    odd.loc[2, "rejected"] = "images/wide.png"
    odd_table = write_table(odd, root / "odd.parquet")
    with pytest.raises(ValueError, match="row 2: chosen is 32x32 but rejected is 40x32"):
        load_pairs(odd_table, on_size_mismatch="error")
    assert len(load_pairs(odd_table, on_size_mismatch="resize")) == 3  # documented: both get resized
    with pytest.raises(FileNotFoundError, match="pairs table not found"):
        load_pairs(root / "absent.parquet")


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    from edithf.cli import main

    assert main(["dpo", "evaluate", "--pipeline", "tiny:flux_kontext"]) == 1
    assert "needs --lora, --instructions" in capsys.readouterr().err
    assert main(["dpo", str(CONFIGS / "dpo_tiny_flux_kontext.yaml"), f"pairs={tmp_path / 'none.parquet'}",
                 f"output_dir={tmp_path / 'run'}"]) == 1
    assert "pairs table not found" in capsys.readouterr().err
    assert main(["dpo", str(CONFIGS / "dpo_tiny_flux_kontext.yaml"), "mixed_precision=fp8"]) == 1
    assert "mixed_precision" in capsys.readouterr().err


def test_unknown_pipelines_are_refused_with_the_supported_list(tmp_path):
    from edithf.dpo.adapters import load_pipeline, make_adapter

    with pytest.raises(ValueError, match="QwenImageEditPipeline, FluxKontextPipeline, StableDiffusionInstructPix2PixPipeline"):
        make_adapter(object())
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    with pytest.raises(ValueError, match="holds a StableDiffusionXLPipeline; the DPO trainer supports"):
        load_pipeline(str(tmp_path))
    with pytest.raises(ValueError, match="unknown tiny pipeline"):
        load_pipeline("tiny:sdxl")


# -- generation and evaluation ------------------------------------------------------------------
def test_generate_edits_is_seeded_and_restores_qwen(toy_pairs):
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit as qwen_edit

    from edithf.dpo.generate import generate_edits
    from edithf.dpo.tiny_pipelines import build_tiny_pipeline

    pipe = build_tiny_pipeline("qwen_image_edit")
    source = toy_pairs.parent / "images" / "000_source.png"
    original = qwen_edit.calculate_dimensions
    images = generate_edits(pipe, [source] * 3, [PROMPT] * 3, [1, 1, 2], num_inference_steps=2,
                            area=32 * 32, batch_size=2)
    assert qwen_edit.calculate_dimensions is original
    arrays = [np.asarray(im) for im in images]
    assert [im.size for im in images] == [(32, 32)] * 3
    assert np.array_equal(arrays[0], arrays[1]) and not np.array_equal(arrays[0], arrays[2])
    with pytest.raises(ValueError, match="same length"):
        generate_edits(pipe, [source], [PROMPT, PROMPT], [0])


@pytest.mark.parametrize("trained", ["instruct_pix2pix"], indirect=True)
def test_evaluate_reports_the_gain(trained, toy_pairs, tmp_path):
    import pandas as pd

    from edithf.dpo.evaluate import evaluate_lora

    family, _, _, _, best = trained
    table = pd.DataFrame({"source": ["images/000_source.png", "images/001_source.png"], "prompt": [PROMPT] * 2})
    table.to_csv(toy_pairs.parent / "instructions.csv", index=False)
    result = evaluate_lora(f"tiny:{family}", best, toy_pairs.parent / "instructions.csv", scorer="dummy",
                           seeds=[0, 1], num_inference_steps=2, area=32 * 32, out_dir=tmp_path / "eval")
    s = result.summary
    assert list(s.index) == ["base", "tuned", "gain", "improvement_%"]
    assert list(s.columns) == ["quality", "alignment", "preservation", "overall"]
    assert np.allclose(s.loc["gain"], s.loc["tuned"] - s.loc["base"])
    assert len(result.scores) == 8 and set(result.scores.variant) == {"base", "tuned"}
    assert not np.array_equal(np.asarray(result.base_images[0]), np.asarray(result.tuned_images[0]))
    assert (tmp_path / "eval" / "report.md").read_text().count("|") > 20
    assert len(list((tmp_path / "eval" / "edits").glob("*.png"))) == 8
