"""TrainConfig: one flat dataclass for a training run of the EditHF evaluator.

The same class drives the YAML file, `edithf train CONFIG.yaml key=value ...` and the studio's
Train form (`edithf.config.describe_fields(TrainConfig)`). Every field says what it does in its
metadata; `group` sorts the fields into sections of the form.

    cfg = load_config(TrainConfig, "configs/train_tiny.yaml", ["lr=3e-4"])
    EditHFTrainer(cfg).train()
"""
from __future__ import annotations

from dataclasses import dataclass

from edithf.config import ConfigError
from edithf.runs import RunConfig, config_field as _f

STAGES = ("textual", "pointwise", "pairwise")

# Fields copied into the model's EditHFConfig when a fresh model is built (`init_from` empty);
# the OPTIONAL ones are copied only when set (0 / empty = keep the model's default).
MODEL_FIELDS = ("backbone", "lora_r", "lora_alpha", "lora_dropout")
OPTIONAL_MODEL_FIELDS = ("head_hidden", "image_size", "max_pixels")


@dataclass
class TrainConfig(RunConfig):
    """The run fields (output_dir, seed, lr, warmup, ..., resume) come from RunConfig; those
    redeclared here change its default."""

    # -- data -------------------------------------------------------------------------------
    dataset: str = _f("", "dataset folder (edits.parquet + images; pairs.parquet for the pairwise stage)", "data")
    train_split: str = _f("train", "split the model learns from", "data")
    eval_split: str = _f("val", "split evaluated every `eval_every`; empty = no evaluation (best/ = last model)", "data")

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
    pairwise_scale: float = _f(10.0, "pairwise temperature: the BT loss is -log sigmoid(scale * (s_w - s_l)) on "
                               "scores in [0, 1]; 10 makes a 0.1 score gap (10 MOS points) a 73% preference",
                               "stages")
    margin: float = _f(0.05, "margin of the margin loss, on the [0, 1] score scale", "stages")
    pairwise_mse_weight: float = _f(0.0, "weight of an extra pointwise MSE on the pair's edits that have MOS, "
                                    "which keeps the scores on the MOS scale while ranking; 0 = the paper's "
                                    "pure ranking loss", "stages")
    curriculum: str = _f("buckets", "order of pairs inside each epoch (cyclic: every epoch starts again from the "
                         "largest rank gaps): sorted = rank gap large to small; buckets = gap buckets large to "
                         "small, shuffled inside; none = shuffled", "stages",
                         ("sorted", "buckets", "none"))
    curriculum_buckets: int = _f(3, "number of rank-gap buckets (curriculum=buckets)", "stages")
    pairs_per_epoch: int = _f(0, "pairwise stage: a fresh random subset of this many pairs per epoch, ordered "
                              "by the curriculum (millions of pairs make a full epoch long); 0 = all pairs", "stages")

    # -- optimisation -----------------------------------------------------------------------
    head_lr: float = _f(1e-3, "peak learning rate of the score head", "optimisation")
    lr_schedule: str = _f("cosine", "decay after warm-up, restarted at each stage", "optimisation",
                          ("cosine", "linear", "constant"))

    # -- evaluation, checkpoints, logging ---------------------------------------------------
    eval_every: int = _f(0, "evaluate every N optimizer steps; 0 = at the end of every epoch", "checkpoints")
    eval_batch_size: int = _f(16, "edits per batch when evaluating", "checkpoints")
    metric_for_best: str = _f("eval/srcc_mean", "metric that picks best/ (eval/srcc_mean, eval/pair_acc_mean, "
                              "eval/srcc_quality, eval/loss ...)", "checkpoints")
    greater_is_better: bool = _f(True, "whether a larger metric_for_best is better (False for losses)", "checkpoints")
    num_workers: int = _f(0, "DataLoader worker processes decoding images", "checkpoints")

    # -- RunConfig fields with another default or meaning here ------------------------------
    output_dir: str = _f("runs/edithf", "where checkpoints, best/, metrics.jsonl and config.yaml go", "run")
    batch_size: int = _f(8, "edits (or pairs) per device per micro-batch", "optimisation")
    weight_decay: float = _f(0.01, "AdamW weight decay (not on biases and norms)", "optimisation")
    warmup: float = _f(0.1, "warm-up: fraction of each stage's steps (< 1) or a number of steps (>= 1)",
                       "optimisation")
    max_steps: int = _f(0, "stop after this many optimizer steps in all (0 = run every epoch)", "optimisation")
    save_every: int = _f(0, "save a resumable checkpoint every N optimizer steps; 0 = at each evaluation", "run")
    logging_steps: int = _f(5, "write train/loss to metrics.jsonl every N optimizer steps", "run")

    def __post_init__(self):
        self.stages = list(self.stages)
        self.epochs = [int(e) for e in ([self.epochs] if isinstance(self.epochs, int) else self.epochs)]
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if not self.stages:
            raise ConfigError(f"stages is empty: choose one or more of {list(STAGES)}")
        bad = [s for s in self.stages if s not in STAGES]
        if bad:
            raise ConfigError(f"stages: {bad} not among {list(STAGES)}")
        if len(self.epochs) not in (1, len(self.stages)) or any(e < 1 for e in self.epochs):
            raise ConfigError(f"epochs must be one positive number or one per stage ({len(self.stages)}); "
                              f"got {self.epochs}")
        for name in ("eval_batch_size", "curriculum_buckets"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("head_lr", "eval_every", "num_workers", "pairwise_mse_weight", "pairs_per_epoch",
                     "pairwise_scale"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.lr == 0 and self.head_lr == 0:
            raise ConfigError("lr and head_lr are both 0: nothing would train; set at least one of them above 0")

    def epochs_of(self, stage_index: int) -> int:
        return self.epochs[0] if len(self.epochs) == 1 else self.epochs[stage_index]

    def model_overrides(self) -> dict:
        """Keyword arguments for EditHFConfig."""
        out = {k: getattr(self, k) for k in MODEL_FIELDS}
        out.update({k: getattr(self, k) for k in OPTIONAL_MODEL_FIELDS if getattr(self, k)})
        return out
