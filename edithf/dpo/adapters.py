"""Per-family glue between the DPO trainer and a diffusers editing pipeline.

An adapter knows, for one pipeline family, how the pipeline itself
- encodes the instruction and the source image (the *condition*: cached once per sample),
- encodes an edited image into the target latents x0 the denoiser learns to reproduce,
- calls its denoiser (transformer or UNet) on noisy latents, and
- which noise schedule it was trained with (flow matching or epsilon).

It calls the pipeline's own methods (`encode_prompt`, `_encode_vae_image`, `_pack_latents`,
`prepare_image_latents` ...) so training sees exactly what generation sees.

Training images are square: every image is resized and centre-cropped to `resolution` (the
edit) or `condition_resolution` (the source, for the families that take it as separate tokens)
by the pipeline's own `image_processor` (`resize_mode="crop"`).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Callable

import torch

from edithf.config import ConfigError

# The families the trainer knows: pipeline class name -> adapter class (filled below).
SUPPORTED: dict[str, type["EditAdapter"]] = {}


def _register(cls):
    SUPPORTED[cls.pipeline_class] = cls
    return cls


def sample_unit_times(n: int, sampling: str, logit_mean: float, logit_std: float,
                      generator: torch.Generator) -> torch.Tensor:
    """u in (0, 1), shape (n,): logit-normal (SD3 / flow models) or uniform."""
    from diffusers.training_utils import compute_density_for_timestep_sampling

    scheme = "logit_normal" if sampling == "logit_normal" else "none"
    return compute_density_for_timestep_sampling(
        scheme, n, logit_mean=logit_mean, logit_std=logit_std, generator=generator
    )


def sample_in_range(u: torch.Tensor, t_range: tuple[float, float]) -> torch.Tensor:
    """Map u in (0, 1) into [lo, hi] (DPOConfig.timestep_min / timestep_max)."""
    lo, hi = t_range
    return lo + (hi - lo) * u


def _pad_dim1(x: torch.Tensor, length: int) -> torch.Tensor:
    """Right-pad dimension 1 with zeros up to `length`."""
    return torch.cat([x, x.new_zeros(x.shape[0], length - x.shape[1], *x.shape[2:])], dim=1)


class FlowMatchingSchedule:
    """x_t = (1 - s) x0 + s eps, target velocity eps - x0; the transformer takes s (= t / 1000).

    FLUX and Qwen-Image schedulers shift sigmas dynamically at inference; a training-time shift
    is applied explicitly: s = shift u / (1 + (shift - 1) u)."""

    prediction = "flow"

    def __init__(self, sampling: str = "logit_normal", logit_mean: float = 0.0,
                 logit_std: float = 1.0, shift: float = 1.0, t_range: tuple[float, float] = (0.0, 1.0)):
        self.sampling, self.logit_mean, self.logit_std, self.shift = sampling, logit_mean, logit_std, shift
        self.t_range = t_range

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        u = sample_in_range(sample_unit_times(n, self.sampling, self.logit_mean, self.logit_std, generator),
                            self.t_range)
        return self.shift * u / (1 + (self.shift - 1) * u)

    def noisy_and_target(self, x0, noise, sigma):
        s = sigma.view(-1, *([1] * (x0.ndim - 1))).to(x0.dtype)
        return (1 - s) * x0 + s * noise, noise - x0


class EpsilonSchedule:
    """DDPM forward process of the pipeline's scheduler config; target eps, or v for
    `prediction_type="v_prediction"`; the UNet takes the integer timestep."""

    def __init__(self, scheduler_config, sampling: str = "uniform", logit_mean: float = 0.0,
                 logit_std: float = 1.0, t_range: tuple[float, float] = (0.0, 1.0),
                 prediction_type: str = "epsilon"):
        from diffusers import DDPMScheduler

        self.scheduler = DDPMScheduler.from_config(scheduler_config)
        self.sampling, self.logit_mean, self.logit_std = sampling, logit_mean, logit_std
        self.t_range, self.prediction = t_range, prediction_type

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        steps = self.scheduler.config.num_train_timesteps
        u = sample_in_range(sample_unit_times(n, self.sampling, self.logit_mean, self.logit_std, generator),
                            self.t_range)
        return (u * steps).long().clamp(0, steps - 1)

    def noisy_and_target(self, x0, noise, t):
        noisy = self.scheduler.add_noise(x0, noise, t)
        if self.prediction == "v_prediction":
            return noisy, self.scheduler.get_velocity(x0, noise, t)
        return noisy, noise


class EditAdapter:
    """Base class; subclasses set the class attributes and implement the four methods."""

    pipeline_class: str = ""
    family: str = ""
    denoiser_name = "transformer"       # the component that gets the LoRA
    default_beta = 100.0                # flow_grpo's value for flow models (docs/dpo.md)
    default_sampling = "logit_normal"   # training-time density of flow models (SD3, FLUX)
    separate_condition = True           # condition as extra tokens (own size) vs channel concat

    def __init__(self, pipe, resolution: int = 512, condition_resolution: int | None = None,
                 guidance_scale: float = 3.5, max_sequence_length: int = 512):
        self.pipe = pipe
        self.size = self._round(resolution)
        same = condition_resolution in (None, 0) or not self.separate_condition
        self.condition_size = self.size if same else self._round(condition_resolution)
        self.guidance_scale = guidance_scale
        self.max_sequence_length = max_sequence_length

    # -- shared ------------------------------------------------------------------------
    @property
    def denoiser(self) -> torch.nn.Module:
        return getattr(self.pipe, self.denoiser_name)

    @property
    def lora_layers_kwarg(self) -> str:
        """The keyword of `Pipeline.save_lora_weights` for the denoiser's LoRA."""
        return f"{self.denoiser_name}_lora_layers"

    def frozen_modules(self) -> list[torch.nn.Module]:
        """Everything but the denoiser: VAE and text encoders (never trained)."""
        return [m for name, m in self.pipe.components.items()
                if isinstance(m, torch.nn.Module) and name != self.denoiser_name]

    def _round(self, side: int) -> int:
        multiple = self.pipe.image_processor.config.vae_scale_factor
        if side < multiple:
            raise ValueError(f"resolution {side} is below the smallest size {multiple} of this pipeline")
        return side // multiple * multiple

    @property
    def device(self) -> torch.device:
        return self.pipe.vae.device

    def pixels(self, image, side: int) -> torch.Tensor:
        """PIL image -> (1, 3, side, side) in [-1, 1], resized and centre-cropped."""
        x = self.pipe.image_processor.preprocess(image, height=side, width=side, resize_mode="crop")
        return x.to(self.device, self.pipe.vae.dtype)

    def resolve(self, cfg):
        """A copy of the DPOConfig with this family's values in place of `auto` / empty."""
        return dataclasses.replace(
            cfg, beta=self.default_beta if cfg.beta is None else cfg.beta,
            timestep_sampling=self.default_sampling if cfg.timestep_sampling == "auto" else cfg.timestep_sampling,
            prediction_type=self._prediction_type(cfg.prediction_type))

    def _prediction_type(self, asked: str) -> str:
        if asked != "auto":
            raise ConfigError(f"prediction_type={asked} applies to epsilon / v models (InstructPix2Pix); "
                              f"{self.family} is a flow-matching model (its target is the velocity): leave it auto")
        return asked

    def make_schedule(self, cfg):
        """The noise schedule of a resolved DPOConfig (`resolve`)."""
        return FlowMatchingSchedule(cfg.timestep_sampling, cfg.logit_mean, cfg.logit_std, cfg.shift,
                                    (cfg.timestep_min, cfg.timestep_max))

    def collate(self, conds: list[dict]) -> dict:
        """Per-sample condition dicts (batch dim 1) -> one batch."""
        return {k: torch.cat([c[k] for c in conds]) for k in conds[0]}

    def guidance(self, batch: int, like: torch.Tensor):
        if not getattr(self.denoiser.config, "guidance_embeds", False):
            return None
        return torch.full((batch,), self.guidance_scale, device=like.device, dtype=torch.float32)

    def packed_grid(self, side: int) -> int:
        """Token grid side of a packed (2x2 patch) latent for an image of `side` pixels."""
        return side // self.pipe.vae_scale_factor // 2

    # -- per family ---------------------------------------------------------------------
    def encode_condition(self, source, prompt: str) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode_target(self, image) -> torch.Tensor:
        raise NotImplementedError

    def predict(self, model: Callable, noisy: torch.Tensor, timestep: torch.Tensor, cond: dict) -> torch.Tensor:
        raise NotImplementedError


@_register
class QwenImageEditAdapter(EditAdapter):
    """Qwen-Image-Edit: Qwen2.5-VL encodes prompt + source image; the transformer sees the noisy
    target tokens followed by the clean source tokens; `img_shapes` lists both grids."""

    pipeline_class = "QwenImageEditPipeline"
    family = "qwen_image_edit"

    def _tokens(self, image, side: int) -> torch.Tensor:
        lat = self.pipe._encode_vae_image(self.pixels(image, side).unsqueeze(2), generator=None)
        b, z, _, h, w = lat.shape                        # (1, z, 1, h, w), normalised
        return self.pipe._pack_latents(lat, b, z, h, w)  # (1, h/2 * w/2, 4z)

    def encode_condition(self, source, prompt):
        side = self.condition_size
        shown = self.pipe.image_processor.resize(source, side, side, resize_mode="crop")
        embeds, mask = self.pipe.encode_prompt([prompt], image=[shown], device=self.device)
        if mask is None:
            mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        return {"prompt_embeds": embeds, "prompt_mask": mask, "image_tokens": self._tokens(shown, side)}

    def encode_target(self, image):
        return self._tokens(image, self.size)

    def collate(self, conds):
        # Prompts differ in length: right-pad embeddings with zeros and mask the padding.
        longest = max(c["prompt_embeds"].shape[1] for c in conds)
        return {
            "prompt_embeds": torch.cat([_pad_dim1(c["prompt_embeds"], longest) for c in conds]),
            "prompt_mask": torch.cat([_pad_dim1(c["prompt_mask"], longest) for c in conds]),
            "image_tokens": torch.cat([c["image_tokens"] for c in conds]),
        }

    def predict(self, model, noisy, timestep, cond):
        b, n = noisy.shape[:2]                           # noisy: (B, L, C) packed target tokens
        grid, cgrid = self.packed_grid(self.size), self.packed_grid(self.condition_size)
        mask = cond["prompt_mask"]
        out = model(
            hidden_states=torch.cat([noisy, cond["image_tokens"]], dim=1),
            timestep=timestep,
            guidance=self.guidance(b, noisy),
            encoder_hidden_states=cond["prompt_embeds"],
            encoder_hidden_states_mask=None if bool(mask.all()) else mask,
            img_shapes=[[(1, grid, grid), (1, cgrid, cgrid)]] * b,
            return_dict=False,
        )[0]
        return out[:, :n]                                # drop the source-image tokens


@_register
class FluxKontextAdapter(EditAdapter):
    """FLUX.1 Kontext: CLIP (pooled) + T5 prompt; source tokens appended to the sequence with
    position ids whose first coordinate is 1."""

    pipeline_class = "FluxKontextPipeline"
    family = "flux_kontext"

    def _tokens(self, image, side):
        lat = self.pipe._encode_vae_image(self.pixels(image, side), generator=None)
        b, c, h, w = lat.shape                           # (1, C, h, w), shifted and scaled
        return self.pipe._pack_latents(lat, b, c, h, w)  # (1, h/2 * w/2, 4C)

    def encode_condition(self, source, prompt):
        embeds, pooled, _ = self.pipe.encode_prompt(
            prompt=[prompt], prompt_2=None, device=self.device, max_sequence_length=self.max_sequence_length
        )
        return {"prompt_embeds": embeds, "pooled": pooled, "image_tokens": self._tokens(source, self.condition_size)}

    def encode_target(self, image):
        return self._tokens(image, self.size)

    def predict(self, model, noisy, timestep, cond):
        b, n = noisy.shape[:2]
        ids = self.pipe._prepare_latent_image_ids
        grid, cgrid = self.packed_grid(self.size), self.packed_grid(self.condition_size)
        latent_ids = ids(b, grid, grid, noisy.device, noisy.dtype)
        image_ids = ids(b, cgrid, cgrid, noisy.device, noisy.dtype)
        image_ids[..., 0] = 1
        text_ids = torch.zeros(cond["prompt_embeds"].shape[1], 3, device=noisy.device, dtype=noisy.dtype)
        out = model(
            hidden_states=torch.cat([noisy, cond["image_tokens"]], dim=1),
            timestep=timestep,
            guidance=self.guidance(b, noisy),
            pooled_projections=cond["pooled"],
            encoder_hidden_states=cond["prompt_embeds"],
            txt_ids=text_ids,
            img_ids=torch.cat([latent_ids, image_ids], dim=0),
            return_dict=False,
        )[0]
        return out[:, :n]


@_register
class InstructPix2PixAdapter(EditAdapter):
    """InstructPix2Pix: CLIP prompt; the UNet takes 8 channels, the noisy target latents
    concatenated with the source latents (VAE mode, unscaled). Epsilon objective."""

    pipeline_class = "StableDiffusionInstructPix2PixPipeline"
    family = "instruct_pix2pix"
    denoiser_name = "unet"
    default_beta = 5000.0            # Diffusion-DPO's value for SD 1.5 (docs/dpo.md: 2500-5000)
    default_sampling = "uniform"
    separate_condition = False

    def _prediction_type(self, asked):
        own = self.pipe.scheduler.config.get("prediction_type", "epsilon")
        if asked not in ("auto", own):
            warnings.warn(f"prediction_type={asked} but the pipeline's scheduler predicts {own}: the LoRA learns "
                          f"the {asked} target, so generate with pipe.scheduler.register_to_config("
                          f"prediction_type={asked!r}) (sensible for a random test UNet, not for a trained one)")
        return own if asked == "auto" else asked

    def make_schedule(self, cfg):
        return EpsilonSchedule(self.pipe.scheduler.config, cfg.timestep_sampling, cfg.logit_mean, cfg.logit_std,
                               (cfg.timestep_min, cfg.timestep_max), cfg.prediction_type)

    def encode_condition(self, source, prompt):
        embeds = self.pipe._encode_prompt(prompt, self.device, 1, False)
        latents = self.pipe.prepare_image_latents(
            self.pixels(source, self.size), 1, 1, self.pipe.vae.dtype, self.device, False
        )
        return {"prompt_embeds": embeds, "image_latents": latents}

    def encode_target(self, image):
        from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import retrieve_latents

        dist = self.pipe.vae.encode(self.pixels(image, self.size))
        return retrieve_latents(dist, sample_mode="argmax") * self.pipe.vae.config.scaling_factor

    def predict(self, model, noisy, timestep, cond):
        x = torch.cat([noisy, cond["image_latents"]], dim=1)   # (B, 4 + 4, h, w)
        return model(x, timestep, encoder_hidden_states=cond["prompt_embeds"], return_dict=False)[0]


def adapter_class(pipe) -> type[EditAdapter]:
    """The adapter of a pipeline instance (subclasses of a supported pipeline count)."""
    for klass in type(pipe).__mro__:
        if klass.__name__ in SUPPORTED:
            return SUPPORTED[klass.__name__]
    raise ValueError(
        f"the DPO trainer does not know the pipeline class {type(pipe).__name__}; supported: "
        f"{', '.join(SUPPORTED)}"
    )


def make_adapter(pipe, **kwargs) -> EditAdapter:
    return adapter_class(pipe)(pipe, **kwargs)


def load_pipeline(spec: str, torch_dtype=None):
    """`tiny:<family>` (built in memory), a local folder or a hub id of a supported pipeline.

    The class is read from `model_index.json` first, so an unsupported pipeline fails before
    any weights are loaded."""
    if spec.startswith("tiny:"):
        from edithf.dpo.tiny_pipelines import build_tiny_pipeline

        pipe = build_tiny_pipeline(spec.split(":", 1)[1])
        return pipe.to(dtype=torch_dtype) if torch_dtype is not None else pipe
    from diffusers import DiffusionPipeline

    class_name = DiffusionPipeline.load_config(spec).get("_class_name", "?")
    if class_name not in SUPPORTED:
        raise ValueError(
            f"{spec} holds a {class_name}; the DPO trainer supports {', '.join(SUPPORTED)} "
            "(or tiny:qwen_image_edit, tiny:flux_kontext, tiny:instruct_pix2pix)"
        )
    extra = {"safety_checker": None, "requires_safety_checker": False} if class_name.startswith("StableDiffusion") else {}
    return DiffusionPipeline.from_pretrained(spec, torch_dtype=torch_dtype, **extra)
