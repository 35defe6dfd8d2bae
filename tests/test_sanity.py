"""Sanity probes: they run on the offline scorers, and catch the failures they are built for."""
from __future__ import annotations

import json

import numpy as np
import pytest

from edithf.cli import main
from edithf.evaluators.base import Evaluator, EvaluatorInfo
from edithf.evaluators.classic import ClassicEvaluator
from edithf.sanity import adapter_probe, run_sanity
from reward_fixtures import make_dataset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class AlwaysFortyTwo(Evaluator):
    """The failure users report of some checkpoints: the same score whatever the input."""

    info = EvaluatorInfo(name="always42", description="constant")

    def _score_batch(self, sources, edited, prompts):
        return {d: [42.0] * len(sources) for d in ("quality", "alignment", "preservation")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("sanity") / "ds", n_groups=6, n_models=2, seed=1)


def statuses(report) -> dict:
    return {p.name: p.status for p in report.probes}


def test_dummy_report(dataset):
    report = run_sanity("dummy", dataset, n=6)
    s = statuses(report)
    assert s["black"] == "PASS" and s["constant"] == "PASS" and s["dimensions"] == "PASS"
    assert s["instruction"] == "FAIL"  # dummy ignores the prompt: the probe must say so
    assert s["adapters"] == "SKIP"
    black = report.probe("black").numbers
    assert black["quality_probe"] < black["quality_real"] - 5
    assert "FAIL  instruction" in report.table() and not report.passed


def test_classic_report(dataset):
    report = run_sanity(ClassicEvaluator(size=176), dataset, n=3)
    s = statuses(report)
    assert s["black"] == "PASS" and s["identity"] == "PASS" and s["swap"] == "PASS"
    assert s["constant"] == "PASS" and s["dimensions"] == "PASS"
    assert s["instruction"] == "SKIP"  # it does not judge alignment: NaN, nothing to probe
    assert "does not judge alignment" in report.probe("instruction").numbers["why"]
    assert report.probe("identity").numbers["preservation_identity"] == pytest.approx(100.0)
    assert "alignment_real" not in report.probe("noise").numbers


def test_a_constant_scorer_fails(dataset):
    report = run_sanity(AlwaysFortyTwo(), dataset, n=4)
    s = statuses(report)
    assert s["constant"] == "FAIL" and s["dimensions"] == "FAIL" and s["black"] == "FAIL"
    assert report.probe("constant").numbers["std_quality"] == 0.0


def test_per_metric_scorer_is_probed_on_its_one_dimension(dataset):
    report = run_sanity("psnr", dataset, n=3)
    s = statuses(report)
    assert s["dimensions"] == "SKIP" and s["black"] == "SKIP" and s["instruction"] == "SKIP"
    assert s["identity"] == "PASS"
    assert s["swap"] == "FAIL"  # PSNR is symmetric in its two images: the probe says so
    assert set(report.probe("constant").numbers) == {"std_preservation", "n_inputs"}


def write_adapter(folder, zero_b: bool):
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    b = np.zeros((8, 4), np.float32) if zero_b else rng.normal(size=(8, 4)).astype(np.float32)
    save_file({"base_model.model.layer.q_proj.lora_A.weight": rng.normal(size=(4, 8)).astype(np.float32),
               "base_model.model.layer.q_proj.lora_B.weight": b}, str(folder / "adapter_model.safetensors"))


def test_untrained_adapters_are_caught(tmp_path):
    official = tmp_path / "official"
    write_adapter(official / "visual" / "llm_lora", zero_b=True)
    write_adapter(official / "visual" / "vision_lora", zero_b=False)
    write_adapter(official / "alignment" / "llm_lora", zero_b=False)
    probe = adapter_probe(f"edithf-official:{official}")
    assert probe.status == "FAIL" and probe.numbers["untrained_adapters"] == 1
    assert probe.numbers["visual/llm_lora"] == "1/1 lora_B all zero"
    trained = tmp_path / "trained"
    write_adapter(trained, zero_b=False)
    assert adapter_probe(f"edithf:{trained}").status == "PASS"
    assert adapter_probe("edithf:some/hub-id").status == "SKIP"
    assert adapter_probe("classic").status == "SKIP"


def test_sanity_command(dataset, capsys):
    assert main(["sanity", "--model", "dummy", "--dataset", str(dataset), "--n", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3 and {p["name"] for p in out["probes"]} >= {"black", "noise", "constant", "adapters"}
    assert main(["sanity", "--model", "dummy", "--dataset", str(dataset), "--n", "3", "--strict"]) == 1
