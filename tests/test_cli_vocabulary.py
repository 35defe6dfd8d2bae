"""One vocabulary on the command line: `--scorer` (alias `--model`) wherever a command takes a
scorer, argparse subcommands for `edithf dpo`, and the tiny fixture backbone said out loud."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from edithf.cli import VERBS, main, parse_command

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
    ("serve", ["--port", "0"]),
]


@pytest.mark.parametrize("verb, rest", SCORER_COMMANDS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_scorer_option_is_scorer_with_the_model_alias(verb, rest):
    for flag in ("--scorer", "--model"):
        _, args = parse_command(verb, [*rest, flag, "edithf:runs/x/best"])
        assert args.scorer == "edithf:runs/x/best" and not hasattr(args, "model")


def test_serve_requires_a_scorer(capsys):
    with pytest.raises(SystemExit):
        parse_command("serve", ["--port", "0"])
    assert "--scorer/--model" in capsys.readouterr().err


def test_our_warnings_are_one_line_notes_while_a_command_runs(demo_dataset, tmp_path, capsys):
    import warnings

    import pandas as pd

    edits = pd.read_parquet(demo_dataset / "edits.parquet")
    edits[["edit_id"]].assign(quality=1.0, alignment=float("nan"), preservation=2.0).head(20).to_parquet(
        tmp_path / "preds.parquet")
    before = warnings.showwarning
    assert main(["leaderboard", str(demo_dataset), "--predictions", str(tmp_path / "preds.parquet"),
                 "--bootstrap", "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert f"edithf leaderboard: note: {len(edits) - 20} of {len(edits)} edits have no prediction" in err[0]
    assert len(err) == 2 and ".py:" not in "\n".join(err)  # no source path, no source line
    assert warnings.showwarning is before  # restored after the command


def test_example_configs_are_found_from_a_scratch_folder(tmp_path, monkeypatch):
    from edithf.config import ConfigError, load_config
    from edithf.training.train_config import TrainConfig

    monkeypatch.chdir(tmp_path)
    with pytest.warns(RuntimeWarning, match="using the example config .*configs/train_demo.yaml"):
        cfg = load_config(TrainConfig, "configs/train_demo.yaml")
    assert cfg.output_dir == "runs/demo"  # relative paths in it stay relative to the folder run in
    for missing in ("configs/nope.yaml", "train_demo.yaml"):
        with pytest.raises(ConfigError, match="config file not found"):
            load_config(TrainConfig, missing)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train_demo.yaml").write_text("output_dir: runs/mine\n")
    assert load_config(TrainConfig, "configs/train_demo.yaml").output_dir == "runs/mine"  # the folder's own first


def config_commands() -> list[tuple[str, list[str]]]:
    """The `edithf VERB ...` lines of the configs' header comments (placeholders `...` skipped)."""
    found = []
    for config in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml")):
        for line in config.read_text().splitlines():
            match = re.match(r"#\s{2,}.*?\bedithf(?:\.cli)? (\S+)(.*?)(?:\s+#.*)?$", line)
            if match and "..." not in line:
                found.append((match[1], shlex.split(match[2])))
    return found


@pytest.mark.parametrize("verb, rest", config_commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_commands_in_config_comments_are_spelled_as_today(verb, rest):
    assert verb in VERBS
    module, _ = parse_command(verb, rest)
    assert getattr(module, "normalize_argv", list)(rest) == rest  # no older spelling (`edithf dpo CONFIG`)


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
