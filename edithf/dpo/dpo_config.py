"""DPOConfig: every knob of a Diffusion-/Flow-DPO run (YAML, `key=value`, studio form).

The run fields every trainer shares (output_dir, seed, lr, warmup, batch_size, save_every,
save_total_limit, resume, ...) come from `edithf.runs.RunConfig`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from edithf.config import ConfigError
from edithf.runs import RunConfig

PIPELINE_HELP = (
    "the editing pipeline to tune: a diffusers folder or hub id of a QwenImageEditPipeline, "
    "FluxKontextPipeline or StableDiffusionInstructPix2PixPipeline, or tiny:qwen_image_edit | "
    "tiny:flux_kontext | tiny:instruct_pix2pix (random, built in memory, for tests)"
)


@dataclass
class DPOConfig(RunConfig):
    """Fields of one DPO run; the shared run fields come first, from RunConfig."""

    pipeline: str = field(default="tiny:qwen_image_edit", metadata={"help": PIPELINE_HELP, "group": "model"})
    pairs: str = field(default="", metadata={
        "help": "preference pairs table (.parquet/.csv/.jsonl) with columns source, prompt, chosen, "
        "rejected; image paths relative to the table's folder or absolute (written by `edithf pairs`)",
        "group": "data"})
    beta: Optional[float] = field(default=None, metadata={
        "help": "DPO temperature (> 0); empty = the family default: 100 for flow matching (Qwen-Image-Edit, "
        "FLUX.1 Kontext, as flow_grpo), 5000 for epsilon models (InstructPix2Pix, as Diffusion-DPO)",
        "group": "dpo"})
    timestep_sampling: str = field(default="auto", metadata={
        "help": "how training times are drawn: logit_normal (u = sigmoid(N(mean, std))), uniform; auto = "
        "logit_normal for flow models, uniform for epsilon models",
        "choices": ["auto", "logit_normal", "uniform"], "group": "dpo"})
    timestep_min: float = field(default=0.0, metadata={
        "help": "lowest training time, as a fraction of the schedule (t / num_train_timesteps for epsilon / "
        "v models, sigma before the shift for flow models)", "group": "dpo"})
    timestep_max: float = field(default=1.0, metadata={
        "help": "highest training time, same unit; e.g. 0.2 = only the low-noise steps t < 200 of 1000",
        "group": "dpo"})
    prediction_type: str = field(default="auto", metadata={
        "help": "epsilon / v models (InstructPix2Pix): the target the UNet learns; auto = the pipeline "
        "scheduler's prediction_type. Another value retrains the parameterisation (for a random test UNet): "
        "generate with the scheduler set to it",
        "choices": ["auto", "epsilon", "v_prediction"], "group": "dpo"})
    logit_mean: float = field(default=0.0, metadata={"help": "mean of the logit-normal time density", "group": "dpo"})
    logit_std: float = field(default=1.0, metadata={"help": "std of the logit-normal time density", "group": "dpo"})
    shift: float = field(default=1.0, metadata={
        "help": "flow models: sigma = shift*u / (1 + (shift-1)*u); 1 = no shift (their schedulers shift "
        "dynamically only at inference)", "group": "dpo"})
    guidance_scale: float = field(default=3.5, metadata={
        "help": "guidance embedding fed to guidance-distilled transformers (FLUX.1 Kontext); ignored by others",
        "group": "dpo"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank on the transformer / UNet", "group": "lora"})
    lora_alpha: Optional[float] = field(default=None, metadata={
        "help": "LoRA alpha (scale = alpha / r); empty = the rank (scale 1); 0 is refused (the LoRA would "
        "do nothing)", "group": "lora"})
    lora_targets: list[str] = field(default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"], metadata={
        "help": "module names (suffixes) that get LoRA, as in diffusers' LoRA training scripts; each must "
        "match a module of the denoiser", "group": "lora"})
    gradient_checkpointing: bool = field(default=False, metadata={
        "help": "recompute transformer activations in the backward pass (less memory, ~30% slower)",
        "group": "run"})
    resolution: int = field(default=512, metadata={
        "help": "side of the square training images (resized and centre-cropped, rounded down to the "
        "pipeline's multiple); chosen, rejected and source all get it", "group": "data"})
    condition_resolution: int = field(default=0, metadata={
        "help": "side of the source image as the model sees it (Qwen-Image-Edit, Kontext); 0 = resolution. "
        "InstructPix2Pix always uses resolution", "group": "data"})
    max_sequence_length: int = field(default=512, metadata={
        "help": "T5 prompt length of FLUX.1 Kontext", "group": "data"})
    on_size_mismatch: str = field(default="resize", metadata={
        "help": "chosen and rejected of different sizes: resize (both are resized to resolution, e.g. "
        "Global-DPO pairs from different models) or error", "choices": ["resize", "error"], "group": "data"})
    cache_dir: str = field(default="", metadata={
        "help": "where encoded conditions and target latents are cached: empty = in memory; a folder = "
        "one safetensors file per pair (reused by a resumed run)", "group": "data"})

    # -- RunConfig fields with another default or meaning here ------------------------------
    output_dir: str = field(default="runs/dpo", metadata={
        "help": "run folder: config.yaml, metrics.jsonl, checkpoint-<step>/, best/ (the LoRA)", "group": "run"})
    batch_size: int = field(default=1, metadata={"help": "pairs per device per micro-step (2x images)",
                                                 "group": "optimisation"})
    max_steps: int = field(default=1000, metadata={"help": "optimizer steps", "group": "optimisation"})
    warmup: float = field(default=0.0, metadata={
        "help": "linear warm-up (a fraction of max_steps if < 1, else steps), then constant",
        "group": "optimisation"})

    def __post_init__(self):
        self.lora_targets = [t.strip() for t in self.lora_targets if t.strip()]  # "to_q, to_k" from a form
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if self.max_steps < 1:
            raise ConfigError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.save_every < 1:
            raise ConfigError(f"save_every must be at least 1, got {self.save_every}")
        if self.beta is not None and self.beta <= 0:
            raise ConfigError(f"beta={self.beta}: the DPO temperature must be > 0 (0 gives every pair the loss "
                              "log 2 and no gradient); leave it empty for the family default")
        if self.lora_alpha is not None and self.lora_alpha <= 0:
            raise ConfigError(f"lora_alpha={self.lora_alpha}: the LoRA scale alpha / r would be "
                              f"{self.lora_alpha / self.lora_r:g}, so the LoRA changes nothing; leave it empty "
                              "(= the rank) or set a positive value")
        if self.lora_r < 1:
            raise ConfigError(f"lora_r must be at least 1, got {self.lora_r}")
        if not 0.0 <= self.timestep_min < self.timestep_max <= 1.0:
            raise ConfigError(f"timestep_min={self.timestep_min}, timestep_max={self.timestep_max}: need "
                              "0 <= timestep_min < timestep_max <= 1 (fractions of the schedule)")
        if not self.lora_targets:
            raise ConfigError("lora_targets is empty: name the denoiser modules that get LoRA (e.g. to_q, to_k)")
