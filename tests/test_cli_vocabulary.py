"""One vocabulary on the command line: `--scorer` (alias `--model`) wherever a command takes a
scorer, argparse subcommands for `edithf dpo`, and the tiny fixture backbone said out loud."""
from __future__ import annotations

import pytest

from edithf.cli import main, parse_command

# every command that takes a scorer, with the other arguments it needs to parse
SCORER_COMMANDS = [
    ("score", ["--source", "s.png", "--edited", "e.png", "--prompt", "p"]),
    ("predict", ["ds", "--out", "p.parquet"]),
    ("sanity", []),
    ("reward", ["best-of-n", "a.png", "b.png", "--source", "s.png", "--prompt", "p"]),
    ("reward", ["curate", "ds", "out", "--threshold", "50"]),
    ("eval", ["--data", "d"]),
    ("pairs", ["self", "--generations", "g.parquet", "--out", "p.parquet"]),
    ("pairs", ["global", "ds", "--out", "p.parquet"]),
    ("dpo", ["evaluate", "--pipeline", "tiny:flux_kontext"]),
]


@pytest.mark.parametrize("verb, rest", SCORER_COMMANDS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_scorer_option_is_scorer_with_the_model_alias(verb, rest):
    for flag in ("--scorer", "--model"):
        _, args = parse_command(verb, [*rest, flag, "edithf:runs/x/best"])
        assert args.scorer == "edithf:runs/x/best" and not hasattr(args, "model")


def test_dpo_subcommands_and_the_older_spelling(tmp_path, capsys):
    _, args = parse_command("dpo", ["train", "configs/x.yaml", "max_steps=2"])
    assert (args.action, args.config, args.overrides) == ("train", "configs/x.yaml", ["max_steps=2"])
    _, old = parse_command("dpo", ["configs/x.yaml", "max_steps=2"])  # `edithf dpo CONFIG.yaml` (studio jobs)
    assert (old.action, old.config, old.overrides) == ("train", "configs/x.yaml", ["max_steps=2"])
    assert parse_command("dpo", ["--fields"])[1].action == "fields"
    assert main(["dpo", "fields"]) == 0 and "output_dir" in capsys.readouterr().out
    assert main(["dpo", "toy-pairs", str(tmp_path / "toy")]) == 0 and (tmp_path / "toy" / "pairs.parquet").is_file()
    with pytest.raises(SystemExit):
        parse_command("dpo", [])  # an action is required: argparse says which


def test_dpo_evaluate_needs_a_judging_scorer(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("EDITHF_SCORER", raising=False)
    (tmp_path / "lora").mkdir()
    args = ["dpo", "evaluate", "--pipeline", "tiny:flux_kontext", "--lora", str(tmp_path / "lora"),
            "--instructions", "i.csv"]
    assert main(args) == 1 and "needs a scorer" in capsys.readouterr().err


def test_tiny_backbones_carry_a_caveat(monkeypatch, capsys):
    from edithf.evaluators.edithf_scorer import EditHFEvaluator, tiny_backbone_caveat

    assert tiny_backbone_caveat("Qwen/Qwen2-VL-2B-Instruct") is None
    assert "hand-set comparison layer" in tiny_backbone_caveat("tiny:qwen2_vl@demo")
    assert "test fixture" in tiny_backbone_caveat("tiny:internvl")
    scorer = EditHFEvaluator("tiny:qwen2_vl", device="cpu")
    assert scorer.caveats() == [tiny_backbone_caveat("tiny:qwen2_vl")] == scorer.info.extra["caveats"]

    import edithf.training.edithf_trainer as trainer

    class NoTraining:
        def __init__(self, cfg):
            self.cfg = cfg

        def train(self):
            return {}

    monkeypatch.setattr(trainer, "EditHFTrainer", NoTraining)
    assert main(["train", "backbone=tiny:qwen2_vl@demo"]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "tiny:qwen2_vl@demo" in warning[0]
