"""Diffusion-/Flow-DPO of a diffusers editing pipeline (paper section 5.5, eq. 7).

    cfg = load_config(DPOConfig, "configs/dpo_tiny_qwen.yaml", ["max_steps=50"])
    DPOTrainer(cfg).train()          # -> output_dir/best/ : a LoRA that pipe.load_lora_weights reads

The recipe (notes/dpo.md): LoRA on the transformer / UNet only, VAE and text encoders frozen;
the reference is the same network with the adapter disabled (no second copy); chosen and
rejected share noise and timestep; per-sample error e = mean((pred - target)^2) and

    loss = -log sigmoid(-0.5 beta ((e_theta,w - e_ref,w) - (e_theta,l - e_ref,l)))

accelerate handles devices, mixed precision and gradient accumulation (`accelerate launch -m
edithf dpo CONFIG` works). Data order, noise and timesteps are functions of (seed, step), so a
killed run resumed from `checkpoint-<step>` continues exactly where it stopped.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from edithf.dpo.dpo_config import DPOConfig

CHECKPOINT_PREFIX = "checkpoint-"
STATE_FILE = "trainer_state.json"
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def per_sample_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((pred - target)^2) over all non-batch dims, in fp32: (N, ...) -> (N,)."""
    return (pred.float() - target.float()).pow(2).mean(dim=tuple(range(1, pred.ndim)))


def dpo_loss(err_policy: torch.Tensor, err_ref: torch.Tensor, beta: float):
    """Errors of shape (2B,) ordered [chosen; rejected] -> (loss, metrics)."""
    pol_w, pol_l = err_policy.chunk(2)
    ref_w, ref_l = err_ref.chunk(2)
    inside = -0.5 * beta * ((pol_w - ref_w) - (pol_l - ref_l))   # implicit reward margin r_w - r_l
    loss = -F.logsigmoid(inside).mean()
    metrics = {
        "train/loss": loss.detach(),
        "train/implicit_acc": (inside > 0).float().mean(),
        "train/reward_margin": inside.detach().mean(),
        "train/err_policy_chosen": pol_w.detach().mean(),
        "train/err_policy_rejected": pol_l.detach().mean(),
        "train/err_ref_chosen": ref_w.mean(),
        "train/err_ref_rejected": ref_l.mean(),
    }
    return loss, metrics


@contextlib.contextmanager
def adapters_disabled(model):
    """The reference network: the same weights with the LoRA turned off."""
    model.disable_adapters()
    try:
        yield model
    finally:
        model.enable_adapters()


class DPOBatch:
    """Builds the inputs of one micro-batch of pairs: [chosen; rejected] latents with the same
    noise and timestep, the condition repeated for both halves."""

    def __init__(self, adapter, schedule, device, dtype):
        self.adapter, self.schedule, self.device, self.dtype = adapter, schedule, device, dtype

    def _to(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device, self.dtype if t.is_floating_point() else t.dtype)

    def __call__(self, samples: list[dict], generator: torch.Generator):
        b = len(samples)
        x0 = torch.cat([s["chosen"] for s in samples] + [s["rejected"] for s in samples])  # (2B, ...)
        noise = torch.randn((b, *x0.shape[1:]), generator=generator).repeat(2, *[1] * (x0.ndim - 1))
        t = self.schedule.sample(b, generator).repeat(2)                                   # (2B,)
        x0, noise = self._to(x0), self._to(noise)
        noisy, target = self.schedule.noisy_and_target(x0, noise, t.to(self.device))
        conds = [s["cond"] for s in samples] * 2
        cond = {k: self._to(v) for k, v in self.adapter.collate(conds).items()}
        timestep = t.to(self.device, self.dtype if t.is_floating_point() else t.dtype)
        return noisy, timestep, target, cond


def dpo_step_loss(adapter, model, reference, inputs, beta: float):
    """One DPO forward: reference (no grad, adapter off) then policy; -> (loss, metrics)."""
    noisy, timestep, target, cond = inputs
    with torch.no_grad(), adapters_disabled(reference):
        err_ref = per_sample_error(adapter.predict(reference, noisy, timestep, cond), target)
    err_policy = per_sample_error(adapter.predict(model, noisy, timestep, cond), target)
    return dpo_loss(err_policy, err_ref, beta)


def list_checkpoints(output_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (those with a trainer state), oldest first."""
    found = []
    for p in Path(output_dir).glob(f"{CHECKPOINT_PREFIX}*"):
        step = p.name[len(CHECKPOINT_PREFIX):]
        if step.isdigit() and (p / STATE_FILE).exists():
            found.append((int(step), p))
    return sorted(found)


@dataclass
class Run:
    """What the loop needs, built once by `DPOTrainer.train`."""

    accelerator: object
    adapter: object
    model: torch.nn.Module        # prepared by accelerate (DDP-wrapped on several processes)
    reference: torch.nn.Module    # the unwrapped module; its adapter is disabled for the reference
    optimizer: object
    lr_scheduler: object
    params: list
    data: object                  # EncodedPairs
    make_inputs: DPOBatch


class DPOTrainer:
    """`pipeline`: an already built pipeline to tune in place (else `cfg.pipeline` is loaded)."""

    def __init__(self, cfg: DPOConfig, pipeline=None):
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        self.pipeline = pipeline
        self._perms: dict[int, list[int]] = {}

    # -- set-up -----------------------------------------------------------------------------
    def _resume_dir(self) -> Path | None:
        cfg, found = self.cfg, list_checkpoints(self.out)
        if cfg.resume == "auto":
            return found[-1][1] if found else None
        if cfg.resume == "never":
            if found:
                raise ValueError(f"{self.out} already holds {found[-1][1].name}; use resume=auto to continue "
                                 "it or pick another output_dir")
            return None
        path = Path(cfg.resume)
        if not (path / STATE_FILE).exists():
            raise FileNotFoundError(f"resume={cfg.resume}: not a checkpoint folder (no {STATE_FILE})")
        return path

    def _build_model(self, accelerator):
        from accelerate.utils import set_seed
        from peft import LoraConfig

        from edithf.dpo.adapters import load_pipeline, make_adapter

        cfg = self.cfg
        weight_dtype = DTYPES.get(cfg.mixed_precision, torch.float32)
        low = None if weight_dtype == torch.float32 else weight_dtype
        if self.pipeline is None:
            pipe = load_pipeline(cfg.pipeline, torch_dtype=low)   # real models load in low precision
        else:
            pipe = self.pipeline if low is None else self.pipeline.to(dtype=low)
        adapter = make_adapter(pipe, resolution=cfg.resolution, condition_resolution=cfg.condition_resolution,
                               guidance_scale=cfg.guidance_scale, max_sequence_length=cfg.max_sequence_length)
        pipe.to(accelerator.device)
        for module in adapter.frozen_modules():
            module.requires_grad_(False).eval()
        denoiser = adapter.denoiser
        denoiser.requires_grad_(False)
        set_seed(cfg.seed)  # LoRA A is drawn from the global RNG: same seed, same run
        denoiser.add_adapter(LoraConfig(
            r=cfg.lora_rank, lora_alpha=cfg.lora_alpha or cfg.lora_rank, init_lora_weights="gaussian",
            target_modules=list(cfg.lora_targets),
        ))
        if weight_dtype != torch.float32:
            from diffusers.training_utils import cast_training_params

            cast_training_params(denoiser, dtype=torch.float32)  # LoRA weights train in fp32
        if cfg.gradient_checkpointing:
            denoiser.enable_gradient_checkpointing()
        denoiser.train()
        return pipe, adapter, weight_dtype

    def _register_lora_hooks(self, accelerator, pipe, adapter):
        """accelerate saves optimizer / scheduler / RNG state; the model part of a checkpoint is
        the LoRA alone, in the diffusers format (as diffusers' LoRA training scripts do)."""
        from peft.utils import set_peft_model_state_dict

        def save_hook(models, weights, output_dir):
            if accelerator.is_main_process:
                self._save_lora(accelerator, pipe, adapter, output_dir)
            weights.clear()  # nothing else of the model goes into the checkpoint

        def load_hook(models, input_dir):
            model = accelerator.unwrap_model(models.pop())
            state = pipe.lora_state_dict(input_dir)
            state = state[0] if isinstance(state, tuple) else state   # SD returns (state, alphas)
            prefix = f"{adapter.denoiser_name}."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            from diffusers.utils import convert_unet_state_dict_to_peft

            result = set_peft_model_state_dict(model, convert_unet_state_dict_to_peft(state), adapter_name="default")
            if getattr(result, "unexpected_keys", None):
                raise ValueError(f"checkpoint {input_dir} does not fit this model: {result.unexpected_keys[:3]} ...")

        accelerator.register_save_state_pre_hook(save_hook)
        accelerator.register_load_state_pre_hook(load_hook)

    def _save_lora(self, accelerator, pipe, adapter, directory) -> None:
        from peft.utils import get_peft_model_state_dict

        model = accelerator.unwrap_model(adapter.denoiser)
        pipe.save_lora_weights(directory, **{
            adapter.lora_layers_kwarg: get_peft_model_state_dict(model),
            f"{adapter.denoiser_name}_lora_adapter_metadata": model.peft_config["default"].to_dict(),
        })

    # -- bookkeeping ------------------------------------------------------------------------
    def _micro_indices(self, micro: int, n: int) -> list[int]:
        """Pair indices of micro-batch `micro`: consecutive slices of per-epoch permutations."""
        bs = self.cfg.batch_size
        out = []
        for pos in range(micro * bs, micro * bs + bs):
            epoch = pos // n
            if epoch not in self._perms:
                g = torch.Generator().manual_seed(self.cfg.seed * 7919 + epoch)
                self._perms = {epoch: torch.randperm(n, generator=g).tolist()}
            out.append(self._perms[epoch][pos % n])
        return out

    def _log(self, record: dict) -> None:
        with open(self.out / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def _truncate_log(self, step: int) -> None:
        """A resumed run rewrites history after its checkpoint step, so the log stays one curve."""
        from edithf.utils.io import atomic_write_text

        path = self.out / "metrics.jsonl"
        if path.exists():
            keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
            atomic_write_text(path, "".join(line + "\n" for line in keep))

    def _save_checkpoint(self, accelerator, step: int) -> None:
        tmp = self.out / f".{CHECKPOINT_PREFIX}{step}.tmp"
        final = self.out / f"{CHECKPOINT_PREFIX}{step}"
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)  # left over by a run killed while saving
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            from edithf.utils.io import atomic_write_text

            atomic_write_text(tmp / STATE_FILE, json.dumps({"step": step, "max_steps": self.cfg.max_steps}))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)  # a checkpoint appears complete or not at all
            keep = self.cfg.keep_checkpoints
            for _, old in (list_checkpoints(self.out)[:-keep] if keep > 0 else []):
                shutil.rmtree(old, ignore_errors=True)
        accelerator.wait_for_everyone()

    def _save_best(self, accelerator, pipe, adapter) -> None:
        if accelerator.is_main_process:
            from edithf.utils.io import atomic_dir

            with atomic_dir(self.out / "best") as tmp:
                self._save_lora(accelerator, pipe, adapter, tmp)

    # -- the loop ---------------------------------------------------------------------------
    def train(self) -> Path:
        from accelerate import Accelerator
        from diffusers.optimization import get_scheduler
        from tqdm.auto import tqdm

        from edithf.config import config_to_yaml
        from edithf.dpo.pairs_data import EncodedPairs, load_pairs
        from edithf.utils.io import atomic_write_text

        cfg = self.cfg
        pairs = load_pairs(cfg.pairs, cfg.on_size_mismatch)     # bad input fails before any model is built
        resume = self._resume_dir()
        accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision)
        pipe, adapter, weight_dtype = self._build_model(accelerator)
        if cfg.beta is None:
            cfg.beta = adapter.default_beta
        schedule = adapter.make_schedule(cfg.timestep_sampling, cfg.logit_mean, cfg.logit_std, cfg.shift)
        data = EncodedPairs(pairs, adapter, cfg.cache_dir or None)
        params = [p for p in adapter.denoiser.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        lr_scheduler = get_scheduler("constant_with_warmup", optimizer, num_warmup_steps=cfg.lr_warmup_steps)
        model, optimizer, lr_scheduler = accelerator.prepare(adapter.denoiser, optimizer, lr_scheduler)
        reference = accelerator.unwrap_model(model)
        self._register_lora_hooks(accelerator, pipe, adapter)

        start = 0
        if resume is not None:
            accelerator.load_state(str(resume))
            start = json.loads((resume / STATE_FILE).read_text())["step"]
        if accelerator.is_main_process:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / "config.yaml", config_to_yaml(cfg))
            self._truncate_log(start)
        run = Run(accelerator, adapter, model, reference, optimizer, lr_scheduler, params, data,
                  DPOBatch(adapter, schedule, accelerator.device, weight_dtype))
        stop_file = self.out / "STOP"
        step = start
        bar = tqdm(total=cfg.max_steps, initial=start, desc="DPO", disable=not accelerator.is_local_main_process)
        while step < cfg.max_steps:
            sums = self._optimizer_step(run, step)
            step += 1
            record = self._reduce(accelerator, sums)
            bar.update(1)
            bar.set_postfix(loss=f"{record['train/loss']:.4f}", acc=f"{record['train/implicit_acc']:.2f}")
            if accelerator.is_main_process:
                self._log({"step": step, "epoch": step * cfg.batch_size * cfg.grad_accum * accelerator.num_processes / len(data),
                           "stage": "dpo", **record, "train/lr": lr_scheduler.get_last_lr()[0],
                           "progress": step / cfg.max_steps})
                if stop_file.exists():
                    accelerator.set_trigger()
            stopping = accelerator.check_trigger()
            if step % cfg.save_every == 0 or step == cfg.max_steps or stopping:
                self._save_checkpoint(accelerator, step)
            if stopping:
                break
        bar.close()
        self._save_best(accelerator, pipe, adapter)
        if accelerator.is_main_process and stop_file.exists():
            stop_file.unlink()  # honoured; a resumed run should not stop at once
        accelerator.end_training()
        return self.out / "best"

    def _optimizer_step(self, run: "Run", step: int) -> dict:
        """grad_accum micro-batches and one optimizer step; -> metrics averaged over them."""
        cfg, acc = self.cfg, run.accelerator
        sums: dict[str, torch.Tensor] = {}
        for a in range(cfg.grad_accum):
            micro = (step * cfg.grad_accum + a) * acc.num_processes + acc.process_index
            samples = [run.data[i] for i in self._micro_indices(micro, len(run.data))]
            generator = torch.Generator().manual_seed(cfg.seed * 2**32 + micro)
            with acc.accumulate(run.model), acc.autocast():
                inputs = run.make_inputs(samples, generator)
                loss, metrics = dpo_step_loss(run.adapter, run.model, run.reference, inputs, cfg.beta)
                acc.backward(loss)
                if acc.sync_gradients and cfg.max_grad_norm > 0:
                    acc.clip_grad_norm_(run.params, cfg.max_grad_norm)
                run.optimizer.step()   # accelerate skips these until the last micro-batch
                run.lr_scheduler.step()
                run.optimizer.zero_grad()
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0) + v.float() / cfg.grad_accum
        return sums

    @staticmethod
    def _reduce(accelerator, sums: dict) -> dict:
        keys = sorted(sums)
        values = accelerator.reduce(torch.stack([sums[k] for k in keys]).to(accelerator.device), "mean")
        return {k: float(v) for k, v in zip(keys, values.tolist())}


def train_dpo(cfg: DPOConfig, pipeline=None) -> Path:
    """Run DPO with `cfg`; returns the folder of the final LoRA (`output_dir/best`)."""
    return DPOTrainer(cfg, pipeline).train()
