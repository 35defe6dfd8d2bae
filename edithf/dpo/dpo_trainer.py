"""Diffusion-/Flow-DPO of a diffusers editing pipeline (paper section 5.5, eq. 7).

    cfg = load_config(DPOConfig, "configs/dpo_tiny_qwen_image_edit.yaml", ["max_steps=50"])
    DPOTrainer(cfg).train()          # -> output_dir/best/ : a LoRA that pipe.load_lora_weights reads

The recipe (docs/dpo.md): LoRA on the transformer / UNet only, VAE and text encoders frozen;
the reference is the same network with the adapter disabled (no second copy); chosen and
rejected share noise and timestep; per-sample error e = mean((pred - target)^2) and

    loss = -log sigmoid(-0.5 beta ((e_theta,w - e_ref,w) - (e_theta,l - e_ref,l)))

accelerate handles devices, mixed precision and gradient accumulation (`accelerate launch -m
edithf dpo train CONFIG` works). Data order, noise and timesteps are functions of (seed, step), so a
killed run resumed from `checkpoint-<step>` continues exactly where it stopped. The run folder
(config.yaml, metrics.jsonl, STOP, checkpoints, best/, warnings.json) is `edithf.runs.RunFolder`.
"""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from edithf.dpo.dpo_config import DPOConfig
from edithf.runs import RunFolder, StepCallback, TrainerState, ask_callbacks, read_metrics, report_warnings

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
LOG2_TOLERANCE = 1e-4  # a loss this close to log 2 at every step: the policy never left the reference


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
    folder: RunFolder


class DPOTrainer:
    """`pipeline`: an already built pipeline to tune in place (else `cfg.pipeline` is loaded).
    `callbacks`: functions `fn(step, logs) -> bool` called after every optimizer step; True stops
    the run as a STOP file does. The caller's `cfg` is never changed: the resolved copy (family
    defaults filled in) is `self.cfg` after `train()` and is what config.yaml holds."""

    def __init__(self, cfg: DPOConfig, pipeline=None, callbacks: list[StepCallback] = ()):
        self.cfg = copy.deepcopy(cfg)
        self.out = Path(cfg.output_dir)
        self.pipeline = pipeline
        self.callbacks = list(callbacks)
        self._perms: dict[int, list[int]] = {}

    # -- set-up -----------------------------------------------------------------------------
    def _build_model(self, accelerator):
        """The pipeline, its adapter and the LoRA; also resolves `self.cfg` for the family."""
        from accelerate.utils import set_seed
        from peft import LoraConfig

        from edithf.dpo.adapters import load_pipeline, make_adapter
        from edithf.models.lora import check_lora_targets

        cfg = self.cfg
        weight_dtype = DTYPES.get(cfg.mixed_precision, torch.float32)
        low = None if weight_dtype == torch.float32 else weight_dtype
        if self.pipeline is None:
            pipe = load_pipeline(cfg.pipeline, torch_dtype=low)   # real models load in low precision
        else:
            pipe = self.pipeline if low is None else self.pipeline.to(dtype=low)
        adapter = make_adapter(pipe, resolution=cfg.resolution, condition_resolution=cfg.condition_resolution,
                               guidance_scale=cfg.guidance_scale, max_sequence_length=cfg.max_sequence_length)
        self.cfg = cfg = adapter.resolve(replace(cfg, lora_alpha=cfg.lora_alpha or float(cfg.lora_r)))
        pipe.to(accelerator.device)
        for module in adapter.frozen_modules():
            module.requires_grad_(False).eval()
        denoiser = adapter.denoiser
        denoiser.requires_grad_(False)
        check_lora_targets(denoiser, cfg.lora_targets, f"{adapter.denoiser_name} ({type(denoiser).__name__})")
        set_seed(cfg.seed)  # LoRA A is drawn from the global RNG: same seed, same run
        denoiser.add_adapter(LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, init_lora_weights="gaussian",
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

            misfit = f"checkpoint {input_dir} does not fit this model (another lora_r or lora_targets?)"
            try:
                result = set_peft_model_state_dict(model, convert_unet_state_dict_to_peft(state),
                                                   adapter_name="default")
            except RuntimeError as exc:  # a shape mismatch
                raise ValueError(f"{misfit}: {str(exc).splitlines()[1].strip()}") from None
            if getattr(result, "unexpected_keys", None):
                raise ValueError(f"{misfit}: {result.unexpected_keys[:3]} ...")

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

    def _save_best(self, accelerator, pipe, adapter) -> None:
        if accelerator.is_main_process:
            from edithf.utils.io import atomic_dir

            with atomic_dir(self.out / "best") as tmp:
                self._save_lora(accelerator, pipe, adapter, tmp)

    # -- the loop ---------------------------------------------------------------------------
    def train(self) -> Path:
        from accelerate import Accelerator
        from diffusers.optimization import get_scheduler

        from edithf.dpo.pairs_data import EncodedPairs, load_pairs

        cfg = self.cfg
        pairs = load_pairs(cfg.pairs, cfg.on_size_mismatch)     # bad input fails before any model is built
        accelerator = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision)
        folder = RunFolder(self.out, accelerator.is_main_process)
        resume = folder.begin(cfg.resume)
        pipe, adapter, weight_dtype = self._build_model(accelerator)
        cfg = self.cfg  # resolved for the family
        data = EncodedPairs(pairs, adapter, cfg.cache_dir or None)
        params = [p for p in adapter.denoiser.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        lr_scheduler = get_scheduler("constant_with_warmup", optimizer,
                                     num_warmup_steps=round(cfg.warmup_steps(cfg.max_steps)))
        model, optimizer, lr_scheduler = accelerator.prepare(adapter.denoiser, optimizer, lr_scheduler)
        reference = accelerator.unwrap_model(model)
        self._register_lora_hooks(accelerator, pipe, adapter)

        start = 0
        if resume is not None:
            accelerator.load_state(str(resume))
            start = TrainerState.load(resume).global_step
        folder.start(cfg, start)
        run = Run(accelerator, adapter, model, reference, optimizer, lr_scheduler, params, data,
                  DPOBatch(adapter, adapter.make_schedule(cfg), accelerator.device, weight_dtype), folder)
        step, event = self._loop(run, start)
        self._save_best(accelerator, pipe, adapter)
        folder.log.write({"step": step, "event": event, "progress": step / cfg.max_steps,
                          "best_dir": str(folder.best_dir)})
        if accelerator.is_main_process:
            self._warn_if_not_learned(folder)
        accelerator.end_training()
        return folder.best_dir

    def _loop(self, run: "Run", start: int) -> tuple[int, str]:
        """Optimizer steps from `start` to max_steps, or until a STOP / callback; -> (step, event)."""
        from tqdm.auto import tqdm

        cfg, accelerator = self.cfg, run.accelerator
        step = start
        bar = tqdm(total=cfg.max_steps, initial=start, desc="DPO",
                   disable=not (cfg.progress_bar and accelerator.is_local_main_process))
        stopping = False
        while step < cfg.max_steps and not stopping:
            record = self._reduce(accelerator, self._optimizer_step(run, step))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{record['train/loss']:.4f}", acc=f"{record['train/implicit_acc']:.2f}")
            record = {"step": step, "epoch": step * cfg.batch_size * cfg.grad_accum * accelerator.num_processes
                      / len(run.data), "stage": "dpo", **record, "train/lr": run.lr_scheduler.get_last_lr()[0],
                      "progress": step / cfg.max_steps}
            if step % cfg.logging_steps == 0 or step == cfg.max_steps:
                run.folder.log.write(record)
            if ask_callbacks(self.callbacks, step, record) or (accelerator.is_main_process and
                                                                run.folder.stop_requested()):
                accelerator.set_trigger()
            stopping = accelerator.check_trigger()
            if step % cfg.save_every == 0 or step == cfg.max_steps or stopping:
                run.folder.save_checkpoint(accelerator, TrainerState(global_step=step, max_steps=cfg.max_steps),
                                           cfg.save_total_limit)
        bar.close()
        return step, "stopped" if stopping else "done"

    def _warn_if_not_learned(self, folder: RunFolder) -> None:
        """A run that cannot have changed the model says so (warnings.json + stderr), not just "done"."""
        from safetensors.torch import load_file

        lora = load_file(str(folder.best_dir / "pytorch_lora_weights.safetensors"))
        found = not_learned_warnings(read_metrics(folder.log.path), lora)
        report_warnings(folder.out, found, "DPO run")

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


def not_learned_warnings(rows: list[dict], lora: dict) -> list[str]:
    """Why a finished DPO run left the model as it was: its loss sat at log 2 at every logged
    step, or its LoRA B matrices (zero at the start) are still all zero, or the loss went NaN."""
    found = []
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    if any(v is None for v in losses):
        found.append("the loss was not finite (NaN / inf) at some step; lower lr or use mixed_precision=no")
    finite = [v for v in losses if v is not None]
    if finite and all(abs(v - math.log(2)) < LOG2_TOLERANCE for v in finite):
        found.append(f"the loss stayed at log 2 = {math.log(2):.4f} at all {len(finite)} logged steps: the policy "
                     "never moved away from the reference (beta, lr or the LoRA scale too small?)")
    lora_b = [v for k, v in lora.items() if "lora_B" in k]
    if lora_b and all(float(v.abs().max()) == 0.0 for v in lora_b):
        found.append(f"the saved LoRA's {len(lora_b)} lora_B weights are all zero: it changes nothing")
    return found


def train_dpo(cfg: DPOConfig, pipeline=None, callbacks: list[StepCallback] = ()) -> Path:
    """Run DPO with `cfg`; returns the folder of the final LoRA (`output_dir/best`)."""
    return DPOTrainer(cfg, pipeline, callbacks).train()
