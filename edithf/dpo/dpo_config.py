"""DPOConfig: every knob of a Diffusion-/Flow-DPO run (YAML, `key=value`, studio form)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

PIPELINE_HELP = (
    "the editing pipeline to tune: a diffusers folder or hub id of a QwenImageEditPipeline, "
    "FluxKontextPipeline or StableDiffusionInstructPix2PixPipeline, or tiny:qwen_image_edit | "
    "tiny:flux_kontext | tiny:instruct_pix2pix (random, built in memory, for tests)"
)


@dataclass
class DPOConfig:
    pipeline: str = field(default="tiny:qwen_image_edit", metadata={"help": PIPELINE_HELP, "group": "model"})
    pairs: str = field(default="", metadata={
        "help": "preference pairs table (.parquet/.csv/.jsonl) with columns source, prompt, chosen, "
        "rejected; image paths relative to the table's folder or absolute (written by `edithf pairs`)",
        "group": "data"})
    output_dir: str = field(default="runs/dpo", metadata={
        "help": "run folder: config.yaml, metrics.jsonl, checkpoint-<step>/, best/ (the LoRA)", "group": "run"})
    beta: Optional[float] = field(default=None, metadata={
        "help": "DPO temperature; empty = the family default: 100 for flow matching (Qwen-Image-Edit, "
        "FLUX.1 Kontext, as flow_grpo), 5000 for epsilon models (InstructPix2Pix, as Diffusion-DPO)",
        "group": "dpo"})
    timestep_sampling: str = field(default="auto", metadata={
        "help": "how training times are drawn: logit_normal (u = sigmoid(N(mean, std))), uniform; auto = "
        "logit_normal for flow models, uniform for epsilon models",
        "choices": ["auto", "logit_normal", "uniform"], "group": "dpo"})
    logit_mean: float = field(default=0.0, metadata={"help": "mean of the logit-normal time density", "group": "dpo"})
    logit_std: float = field(default=1.0, metadata={"help": "std of the logit-normal time density", "group": "dpo"})
    shift: float = field(default=1.0, metadata={
        "help": "flow models: sigma = shift*u / (1 + (shift-1)*u); 1 = no shift (their schedulers shift "
        "dynamically only at inference)", "group": "dpo"})
    guidance_scale: float = field(default=3.5, metadata={
        "help": "guidance embedding fed to guidance-distilled transformers (FLUX.1 Kontext); ignored by others",
        "group": "dpo"})
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank on the transformer / UNet", "group": "lora"})
    lora_alpha: Optional[float] = field(default=None, metadata={
        "help": "LoRA alpha; empty = the rank (scale 1)", "group": "lora"})
    lora_targets: list[str] = field(default_factory=lambda: ["to_q", "to_k", "to_v", "to_out.0"], metadata={
        "help": "module names (suffixes) that get LoRA, as in diffusers' LoRA training scripts", "group": "lora"})
    lr: float = field(default=1e-4, metadata={"help": "AdamW learning rate of the LoRA weights", "group": "optim"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "group": "optim"})
    lr_warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps, then constant", "group": "optim"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping norm (0 = off)", "group": "optim"})
    batch_size: int = field(default=1, metadata={"help": "pairs per device per micro-step (2x images)", "group": "optim"})
    grad_accum: int = field(default=1, metadata={"help": "micro-steps per optimizer step", "group": "optim"})
    max_steps: int = field(default=1000, metadata={"help": "optimizer steps", "group": "optim"})
    mixed_precision: str = field(default="no", metadata={
        "help": "accelerate mixed precision; frozen parts are cast to it, LoRA weights stay fp32",
        "choices": ["no", "fp16", "bf16"], "group": "run"})
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
    seed: int = field(default=0, metadata={"help": "seed of data order, noise and timesteps", "group": "run"})
    save_every: int = field(default=100, metadata={"help": "checkpoint every N optimizer steps", "group": "run"})
    keep_checkpoints: int = field(default=2, metadata={"help": "newest checkpoints kept (0 = all)", "group": "run"})
    resume: str = field(default="auto", metadata={
        "help": "auto: continue from the newest checkpoint-<step> in output_dir if any; never: start "
        "fresh (fails if output_dir has checkpoints); or the path of a checkpoint folder", "group": "run"})
