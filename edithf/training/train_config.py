"""TrainConfig: one flat dataclass for a training run of the EditHF evaluator.

The same class drives the YAML file, `edithf train CONFIG.yaml key=value ...` and the studio's
Train form (`edithf.config.describe_fields(TrainConfig)`). Every field says what it does in its
metadata; `group` sorts the fields into sections of the form.

    cfg = load_config(TrainConfig, "configs/train_tiny.yaml", ["lr=3e-4"])
    EditHFTrainer(cfg).train()
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edithf.config import ConfigError

STAGES = ("textual", "pointwise", "pairwise")

# Fields copied into the model's EditHFConfig when a fresh model is built (`init_from` empty);
# the OPTIONAL ones are copied only when set (0 / empty = keep the model's default).
MODEL_FIELDS = ("backbone", "lora_r", "lora_alpha", "lora_dropout")
OPTIONAL_MODEL_FIELDS = ("head_hidden", "image_size", "max_pixels")


def _f(default, help_, group, choices=None, **kwargs):
    meta = {"help": help_, "group": group}
    if choices is not None:
        meta["choices"] = list(choices)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta, **kwargs)
    return field(default=default, metadata=meta, **kwargs)


@dataclass
class TrainConfig:
    # -- data -------------------------------------------------------------------------------
    dataset: str = _f("", "dataset folder (edits.parquet + images; pairs.parquet for the pairwise stage)", "data")
    train_split: str = _f("train", "split the model learns from", "data")
    eval_split: str = _f("val", "split evaluated every `eval_every`; empty = no evaluation (best/ = last model)", "data")
    output_dir: str = _f("runs/edithf", "where checkpoints, best/, metrics.jsonl and config.yaml go", "data")

    # -- model ------------------------------------------------------------------------------
    backbone: str = _f("tiny:qwen2_vl", "MLLM backbone: a hub id / folder, or tiny:qwen2_vl / tiny:internvl (offline tests)", "model")
    init_from: str = _f("", "an existing EditHF model folder to continue from (its backbone, LoRA and head); "
                        "the model fields below are then ignored", "model")
    lora_r: int = _f(16, "LoRA rank (vision tower and language model)", "model")
    lora_alpha: int = _f(32, "LoRA alpha (scaling = alpha / r)", "model")
    lora_dropout: float = _f(0.05, "LoRA dropout", "model")
    head_hidden: list[int] = _f([], "hidden sizes of the score head MLP; empty = the model's default", "model")
    image_size: int = _f(0, "InternVL tile side each image is resized to; 0 = the model's default", "model")
    max_pixels: int = _f(0, "Qwen2-VL: most pixels per image; 0 = the model's default", "model")

    # -- stages and losses ------------------------------------------------------------------
    stages: list[str] = _f(list(STAGES), "stages to run, in order (any subset or sequence)", "stages", STAGES)
    epochs: list[int] = _f([1], "epochs per stage: one number for every stage, or one per stage", "stages")
    pairwise_loss: str = _f("bt", "pairwise loss: bt = -log sigmoid(scale*(s_w - s_l)) (Bradley-Terry), "
                            "margin = max(0, margin - (s_w - s_l))", "stages", ("bt", "margin"))
    pairwise_scale: float = _f(10.0, "scale of the score difference inside the BT loss (scores are in [0, 1])", "stages")
    margin: float = _f(0.05, "margin of the margin loss, on the [0, 1] score scale", "stages")
    pairwise_mse_weight: float = _f(0.0, "weight of an extra pointwise MSE on the pair's edits that have MOS, "
                                    "which keeps the scores on the MOS scale while ranking; 0 = the paper's "
                                    "pure ranking loss", "stages")
    curriculum: str = _f("buckets", "order of pairs in each epoch: sorted = rank gap large to small; buckets = "
                         "gap buckets large to small, shuffled inside; none = shuffled", "stages",
                         ("sorted", "buckets", "none"))
    curriculum_buckets: int = _f(3, "number of rank-gap buckets (curriculum=buckets)", "stages")
    pairs_per_epoch: int = _f(0, "pairwise stage: a fresh random subset of this many pairs per epoch, ordered "
                              "by the curriculum (millions of pairs make a full epoch long); 0 = all pairs", "stages")

    # -- optimisation -----------------------------------------------------------------------
    batch_size: int = _f(8, "edits (or pairs) per device per micro-batch", "optimisation")
    grad_accum: int = _f(1, "micro-batches accumulated per optimizer step", "optimisation")
    lr: float = _f(1e-4, "peak learning rate of the LoRA parameters", "optimisation")
    head_lr: float = _f(1e-3, "peak learning rate of the score head", "optimisation")
    weight_decay: float = _f(0.01, "AdamW weight decay (not on biases and norms)", "optimisation")
    warmup: float = _f(0.1, "warm-up: fraction of each stage's steps (< 1) or a number of steps (>= 1)", "optimisation")
    lr_schedule: str = _f("cosine", "decay after warm-up, restarted at each stage", "optimisation",
                          ("cosine", "linear", "constant"))
    max_grad_norm: float = _f(1.0, "gradient clipping norm; 0 = off", "optimisation")
    max_steps: int = _f(0, "stop after this many optimizer steps in all (0 = run every epoch)", "optimisation")
    mixed_precision: str = _f("no", "autocast precision (bf16 also works on CPU; fp16 needs a GPU)", "optimisation",
                              ("no", "bf16", "fp16"))
    seed: int = _f(0, "seed of the model's new weights, the data order and dropout", "optimisation")

    # -- evaluation, checkpoints, logging ---------------------------------------------------
    eval_every: int = _f(0, "evaluate every N optimizer steps; 0 = at the end of every epoch", "checkpoints")
    eval_batch_size: int = _f(16, "edits per batch when evaluating", "checkpoints")
    metric_for_best: str = _f("eval/srcc_mean", "metric that picks best/ (eval/srcc_mean, eval/pair_acc_mean, "
                              "eval/srcc_quality, eval/loss ...)", "checkpoints")
    greater_is_better: bool = _f(True, "whether a larger metric_for_best is better (False for losses)", "checkpoints")
    save_every: int = _f(0, "save a resumable checkpoint every N optimizer steps; 0 = at each evaluation", "checkpoints")
    save_total_limit: int = _f(2, "keep at most this many checkpoint-<step>/ folders (oldest removed); 0 = all", "checkpoints")
    resume: str = _f("auto", "auto = continue from the last checkpoint in output_dir if any; never = start over "
                     "(output_dir must hold no checkpoint); or a checkpoint folder", "checkpoints")
    logging_steps: int = _f(5, "write train/loss to metrics.jsonl every N optimizer steps", "checkpoints")
    num_workers: int = _f(0, "DataLoader worker processes decoding images", "checkpoints")
    progress_bar: bool = _f(True, "show tqdm progress bars", "checkpoints")

    def __post_init__(self):
        self.stages = list(self.stages)
        self.epochs = [int(e) for e in ([self.epochs] if isinstance(self.epochs, int) else self.epochs)]
        self.validate()

    def validate(self) -> None:
        if not self.stages:
            raise ConfigError(f"stages is empty: choose one or more of {list(STAGES)}")
        bad = [s for s in self.stages if s not in STAGES]
        if bad:
            raise ConfigError(f"stages: {bad} not among {list(STAGES)}")
        if len(self.epochs) not in (1, len(self.stages)) or any(e < 1 for e in self.epochs):
            raise ConfigError(f"epochs must be one positive number or one per stage ({len(self.stages)}); "
                              f"got {self.epochs}")
        for name in ("batch_size", "grad_accum", "eval_batch_size", "logging_steps", "curriculum_buckets"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "head_lr"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        for name in ("max_steps", "eval_every", "save_every", "save_total_limit", "num_workers", "warmup",
                     "pairwise_mse_weight", "pairs_per_epoch"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if not self.output_dir:
            raise ConfigError("output_dir is empty: name the folder the run writes into")

    def epochs_of(self, stage_index: int) -> int:
        return self.epochs[0] if len(self.epochs) == 1 else self.epochs[stage_index]

    def model_overrides(self) -> dict:
        """Keyword arguments for EditHFConfig."""
        out = {k: getattr(self, k) for k in MODEL_FIELDS}
        out.update({k: getattr(self, k) for k in OPTIONAL_MODEL_FIELDS if getattr(self, k)})
        return out
