"""EditHFTrainer: the three-stage training of the EditHF evaluator (paper section 4.2).

    textual   -> cross-entropy on the level word of each dimension
    pointwise -> MSE between the predicted scores and MOS (in [0, 1] units)
    pairwise  -> Bradley-Terry (or margin) loss on same-group pairs, large rank gaps first

    trainer = EditHFTrainer(load_config(TrainConfig, "configs/train_tiny.yaml"))
    final_metrics = trainer.train()

accelerate does devices, mixed precision, gradient accumulation and several GPUs
(`accelerate launch -m edithf.cli train CONFIG.yaml`). Only the LoRA and head parameters train.
Each stage restarts the warm-up + decay schedule and the AdamW moments. The run writes into
`output_dir` (the run folder of `edithf.runs`): config.yaml, metrics.jsonl, checkpoint-<step>/
(whose model part is trainable.safetensors: the LoRA and head tensors only) and best/ (an EditHF
model folder). `resume=auto` continues a killed run from its last checkpoint at the saved step,
in the same stage, epoch and data order. A file `output_dir/STOP`, or a step callback returning
True, makes the run save a checkpoint and return at the next optimizer step.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, SequentialSampler

from edithf.config import ConfigError
from edithf.data.schema import DIMENSIONS
from edithf.runs import RunFolder, StepCallback, TrainerState, ask_callbacks, read_metrics, report_warnings
from edithf.training import losses
from edithf.training.data import (MOS_COLUMNS, EditItems, EpochSampler, PairItems, collate_edits,
                                  collate_pairs)
from edithf.training.train_config import TrainConfig

TRAINABLE_NAME = "trainable.safetensors"  # the model part of a checkpoint: LoRA + head tensors
MEAN_METRICS = ("srcc", "plcc", "krcc", "group_srcc", "pair_acc")


@dataclass
class Stage:
    name: str
    loader: DataLoader  # prepared by accelerate
    epochs: int
    steps_per_epoch: int  # optimizer steps
    start: int = 0  # global step at which the stage begins
    steps: int = 0  # optimizer steps it runs (max_steps may cut it short)


class EditHFTrainer:
    """`callbacks`: functions `fn(step, logs) -> bool` called after every optimizer step (logs:
    that step's loss and learning rates); True stops the run as a STOP file does. The caller's
    `cfg` is not changed; config.yaml holds it as the run used it."""

    def __init__(self, cfg: TrainConfig, callbacks: list[StepCallback] = ()):
        self.cfg = copy.deepcopy(cfg)
        self.callbacks = list(callbacks)
        self.out = Path(cfg.output_dir)
        self.state = TrainerState()
        self.last_eval: dict = {}
        self.epoch_float = 0.0  # epochs of the current stage done, with the fraction of the current one
        self._saved_step: int | None = None

    # ==================================================================== the run
    def train(self) -> dict:
        """Run every stage (or continue a killed run); returns the final metrics."""
        from accelerate.utils import set_seed

        cfg = self.cfg
        self._check_metric_name()
        dataset = self._load_dataset()
        train_ds = dataset.split(cfg.train_split)
        levels, level_ranges = self._level_bins(train_ds)
        stages = [self._make_stage(name, i, train_ds, levels) for i, name in enumerate(cfg.stages)]
        eval_loader = self._make_eval_loader(dataset)  # every data error is raised before the model loads
        self.accelerator = acc = self._make_accelerator()
        self.folder = RunFolder(self.out, acc.is_main_process)
        resume = self.folder.begin(cfg.resume)
        set_seed(cfg.seed)
        core = self._build_model(str(acc.device))
        if "textual" in cfg.stages:
            self._use_level_ranges(core, level_ranges)
        self.score_range = tuple(core.cfg.score_range)
        for stage in stages:
            stage.loader = acc.prepare(stage.loader)  # shards the batches over processes
        self.stages = stages
        self.eval_loader = acc.prepare(eval_loader) if eval_loader is not None else None
        self._plan_steps()  # needs the prepared (per-process) loader lengths
        optimizer = torch.optim.AdamW(self._param_groups(core))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._lr_factor)
        self.model, self.optimizer, self.scheduler = acc.prepare(core, optimizer, scheduler)
        self.core, self.dataset = core, dataset
        acc.register_save_state_pre_hook(self._save_trainable)
        acc.register_load_state_pre_hook(self._load_trainable)

        self.log = self.folder.log
        self._resume(resume)
        self.folder.start(cfg, self.state.global_step)
        self._start_weights = self._trainable_snapshot()
        acc.wait_for_everyone()

        halt = self._run_stages()
        return self._finish(halt)

    def _run_stages(self) -> str | None:
        """Train until every stage is done; returns 'stopped' / 'max_steps' when cut short."""
        from tqdm.auto import tqdm

        cfg, st = self.cfg, self.state
        self.bar = tqdm(total=self.total_steps, initial=min(st.global_step, self.total_steps), unit="step",
                        disable=not (cfg.progress_bar and self.accelerator.is_main_process), dynamic_ncols=True)
        try:
            if cfg.max_steps and st.global_step >= cfg.max_steps:
                return "max_steps"
            while st.stage_index < len(self.stages):
                stage = self.stages[st.stage_index]
                if st.epoch == 0 and st.batches_done == 0:
                    self._optimizer().state.clear()  # each stage starts with fresh AdamW moments
                self.bar.set_description(f"{stage.name} {st.epoch + 1}/{stage.epochs}")
                halt = self._train_epoch(stage)
                if halt:
                    return halt
            return None
        finally:
            self.bar.close()

    def _train_epoch(self, stage: Stage) -> str | None:
        acc, st = self.accelerator, self.state
        loader = stage.loader
        self.epoch_float = st.epoch + st.batches_done / len(loader)
        loader.set_epoch(st.epoch)  # the sampler's order is a function of (seed, stage, epoch)
        if st.batches_done:  # resumed mid-epoch: the same order, minus what was already trained on
            loader = acc.skip_first_batches(loader, st.batches_done)
            loader.set_epoch(st.epoch)
        self.model.train()
        running: list[float] = []
        for batch in loader:
            with acc.accumulate(self.model):
                loss = self._loss(stage.name, batch)
                acc.backward(loss)
                if acc.sync_gradients and self.cfg.max_grad_norm:
                    acc.clip_grad_norm_(self.model.parameters(), self.cfg.max_grad_norm)
                self.optimizer.step()
                self.optimizer.zero_grad()
            st.batches_done += 1
            self.epoch_float = st.epoch + st.batches_done / len(stage.loader)
            running.append(loss.detach().float().item())
            if acc.sync_gradients:
                self.step_lrs = self.scheduler.get_last_lr()  # the LRs this step used (LoRA, ..., head)
                self.scheduler.step()
                st.global_step += 1
                self.bar.update(1)
                halt = self._after_step(stage, running)
                if halt:
                    return halt
        st.epoch, st.batches_done = st.epoch + 1, 0
        self.epoch_float = float(st.epoch)
        if st.epoch >= stage.epochs:
            st.stage_index, st.epoch = st.stage_index + 1, 0
        if self.cfg.eval_every == 0:
            self._evaluate(stage)
            if self.cfg.save_every == 0:
                self._save_checkpoint()
        return None

    def _after_step(self, stage: Stage, running: list[float]) -> str | None:
        cfg, st = self.cfg, self.state
        running_loss = running[-1] if running else float("nan")
        if st.global_step % cfg.logging_steps == 0 and running:
            self._log(stage, {"train/loss": float(np.mean(running)), "train/lr": self.step_lrs[0],
                              "train/head_lr": self.step_lrs[-1]})
            self.bar.set_postfix(loss=f"{np.mean(running):.4f}")
            running.clear()
        if cfg.eval_every and st.global_step % cfg.eval_every == 0:
            self._evaluate(stage)
            if cfg.save_every == 0:
                self._save_checkpoint()
        if cfg.save_every and st.global_step % cfg.save_every == 0:
            self._save_checkpoint()
        asked = ask_callbacks(self.callbacks, st.global_step, {"train/loss": running_loss,
                                                                "train/lr": self.step_lrs[0]})
        if asked or self.folder.stop_requested():
            self._save_checkpoint()
            return "stopped"
        if cfg.max_steps and st.global_step >= cfg.max_steps:
            return "max_steps"
        return None

    def _finish(self, halt: str | None) -> dict:
        """Last evaluation and checkpoint, best/ guaranteed, the closing log line."""
        acc, st = self.accelerator, self.state
        if halt != "stopped":
            stage = self.stages[min(st.stage_index, len(self.stages) - 1)]
            if self.eval_loader is not None and st.last_eval_step != st.global_step:
                self._evaluate(stage)
            if self._saved_step != st.global_step:
                self._save_checkpoint()
        if acc.is_main_process and halt != "stopped" and not (self.out / "best").exists():
            self.core.save_pretrained(self.out / "best")  # no (finite) eval metric: the last model
        event = halt or "done"
        summary = {"step": st.global_step, "event": event, "progress": self._progress(),
                   "best_step": st.best_step, "best_metric": st.best_metric,
                   "metric_for_best": self.cfg.metric_for_best, "best_dir": str(self.out / "best")}
        self.log.write(summary)
        if acc.is_main_process and halt != "stopped":
            self._warn_if_not_learned()
        acc.wait_for_everyone()
        return {**self.last_eval, **summary, "stopped": halt == "stopped"}

    def _trainable_snapshot(self) -> dict:
        return {n: p.detach().float().cpu().clone() for n, p in self.core.named_parameters() if p.requires_grad}

    def _warn_if_not_learned(self) -> None:
        """A run whose weights did not move, or whose loss went NaN, says so (warnings.json + stderr)."""
        found = []
        losses_logged = [r["train/loss"] for r in read_metrics(self.log.path) if "train/loss" in r]
        if any(v is None for v in losses_logged):
            found.append("the training loss was not finite (NaN / inf) at some logged step; lower lr / head_lr "
                         "or use mixed_precision=no")
        now = self._trainable_snapshot()
        steps = self.state.global_step - self._start_step  # trained by this call (0: resumed at the end)
        if steps and all(torch.equal(now[n], v) for n, v in self._start_weights.items()):
            found.append(f"no trainable weight (LoRA or score head) changed in {steps} optimizer steps: the "
                         "learning rates or gradients are zero")
        report_warnings(self.out, found, "training run")

    # ==================================================================== losses
    def _loss(self, stage: str, batch: dict) -> torch.Tensor:
        cfg = self.cfg
        if stage == "pairwise":
            p = len(batch["prompts"])
            inputs = self.core.prepare(batch["sources"] * 2, batch["preferred"] + batch["rejected"],
                                       batch["prompts"] * 2)
            scores = self.model(**inputs).scores  # (2P, D): preferred rows first, then rejected
            dims = batch["dims"].to(scores.device).repeat(2)  # (2P,)
            s = scores.gather(1, dims[:, None]).squeeze(1)  # (2P,) each pair's own dimension
            loss = losses.pairwise_loss(s[:p], s[p:], cfg.pairwise_loss, cfg.pairwise_scale, cfg.margin)
            target = self._unit(batch["mos"])  # (2P, D)
            if cfg.pairwise_mse_weight and torch.isfinite(target).any():
                loss = loss + cfg.pairwise_mse_weight * losses.pointwise_loss(scores, target)
            return loss
        out = self.model(**self.core.prepare(batch["sources"], batch["edited"], batch["prompts"]))
        if stage == "textual":
            return losses.textual_loss(out.level_logits, batch["levels"].to(out.level_logits.device))
        return losses.pointwise_loss(out.scores, self._unit(batch["mos"]))

    # ==================================================================== evaluation
    @torch.no_grad()
    def _evaluate(self, stage: Stage) -> dict:
        if self.eval_loader is None:
            return {}
        acc, st, cfg = self.accelerator, self.state, self.cfg
        metrics = self._eval_metrics()
        st.last_eval_step = st.global_step
        value = metrics.get(cfg.metric_for_best, float("nan"))
        better = (lambda a, b: a > b) if cfg.greater_is_better else (lambda a, b: a < b)
        if math.isfinite(value) and (st.best_metric is None or better(value, st.best_metric)):
            st.best_metric, st.best_step = float(value), st.global_step
            if acc.is_main_process:
                self.core.save_pretrained(self.out / "best")
            acc.wait_for_everyone()
        self.last_eval = metrics
        self._log(stage, metrics)
        return metrics

    def _eval_metrics(self) -> dict:
        from edithf.metrics import evaluate_predictions

        acc = self.accelerator
        self.model.eval()
        scores, index = [], []
        for batch in self.eval_loader:
            out = self.model(**self.core.prepare(batch["sources"], batch["edited"], batch["prompts"]))
            s, i = acc.gather_for_metrics((out.scores.float(), batch["index"].to(out.scores.device)))
            scores.append(s.cpu())
            index.append(i.cpu())
        self.model.train()
        scores01 = torch.cat(scores).numpy()  # (N, D) in [0, 1] units
        items: EditItems = self.eval_loader.dataset
        order = torch.cat(index).numpy()
        lo, hi = self.score_range
        preds = pd.DataFrame(lo + scores01 * (hi - lo), columns=list(DIMENSIONS))
        preds.insert(0, "edit_id", items.edits["edit_id"].to_numpy()[order])
        found = evaluate_predictions(self.dataset, preds, split=self.cfg.eval_split)
        metrics = {f"eval/{k}": float(v) for k, v in found.items()}
        for name in MEAN_METRICS:
            values = [metrics.get(f"eval/{name}_{d}", float("nan")) for d in DIMENSIONS]
            metrics[f"eval/{name}_mean"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        target = self._unit(items.mos[order])  # (N, D) in [0, 1] units, NaN where missing
        known = np.isfinite(target)
        metrics["eval/mse"] = float(np.mean((scores01[known] - target[known]) ** 2)) if known.any() else float("nan")
        return metrics

    # ==================================================================== checkpoints
    def _save_checkpoint(self) -> None:
        self.state.max_steps = self.total_steps
        self.folder.save_checkpoint(self.accelerator, self.state, self.cfg.save_total_limit)
        self._saved_step = self.state.global_step

    def _save_trainable(self, models, weights, output_dir) -> None:
        """accelerate save hook: write only the LoRA + head tensors, not the frozen base."""
        from safetensors.torch import save_file

        if self.accelerator.is_main_process:
            model = self.accelerator.unwrap_model(models[0])
            state = {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}
            save_file(state, str(Path(output_dir) / TRAINABLE_NAME))
        weights.clear()  # accelerate would otherwise also write the whole model

    def _load_trainable(self, models, input_dir) -> None:
        from safetensors.torch import load_file

        model = self.accelerator.unwrap_model(models.pop())  # popped: accelerate loads no weights itself
        state = load_file(str(Path(input_dir) / TRAINABLE_NAME), device=str(self.accelerator.device))
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        if set(state) != trainable:
            raise ValueError(f"checkpoint {input_dir} does not fit this model: it holds {len(state)} trainable "
                             f"tensors, the model has {len(trainable)} (different backbone or LoRA settings?)")
        model.load_state_dict(state, strict=False)

    def _resume(self, ckpt: Path | None) -> None:
        self._start_step = 0
        if ckpt is None:
            return
        self.accelerator.load_state(str(ckpt))
        self.state = TrainerState.load(ckpt)
        self._saved_step = self._start_step = self.state.global_step
        self.accelerator.print(f"resumed from {ckpt} at step {self.state.global_step} "
                               f"(stage {self.state.stage_index}, epoch {self.state.epoch}, "
                               f"batch {self.state.batches_done})")

    # ==================================================================== set-up
    def _check_metric_name(self) -> None:
        """metric_for_best must be one the evaluation computes, known before any training."""
        from edithf.metrics import METRICS

        known = {"eval/mse", *(f"eval/{m}_{d}" for m in METRICS for d in (*DIMENSIONS, "mean")
                               if d != "mean" or m in MEAN_METRICS)}
        if self.cfg.metric_for_best not in known:
            raise ConfigError(f"metric_for_best={self.cfg.metric_for_best!r} is not computed; choose one of "
                              f"{sorted(known)}")

    def _load_dataset(self):
        from edithf.data.dataset import load_dataset

        cfg = self.cfg
        if not cfg.dataset:
            raise ConfigError("dataset is empty: set dataset=PATH (a dataset folder; `edithf demo build demo/` "
                              "makes one)")
        if not Path(cfg.dataset).is_dir():
            raise FileNotFoundError(f"dataset folder not found: {cfg.dataset} (build the demo with "
                                    f"`edithf demo build {cfg.dataset}` or point dataset= at a dataset folder)")
        return load_dataset(cfg.dataset, check_images=False)

    def _make_accelerator(self):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        if self.cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
            raise ConfigError("mixed_precision=fp16 needs a GPU; use bf16 (works on CPU) or no")
        # find_unused_parameters: the textual stage leaves the score head without gradients.
        return Accelerator(mixed_precision=self.cfg.mixed_precision,
                           gradient_accumulation_steps=self.cfg.grad_accum,
                           step_scheduler_with_optimizer=False,  # we step it once per optimizer step
                           kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])

    def _build_model(self, device: str):
        from edithf.models.edithf_config import EditHFConfig
        from edithf.models.edithf_model import EditHFModel

        if self.cfg.init_from:
            return EditHFModel.from_pretrained(self.cfg.init_from, device=device)
        return EditHFModel.from_config(EditHFConfig(**self.cfg.model_overrides()), device=device)

    def _param_groups(self, model) -> list[dict]:
        """AdamW groups: LoRA at `lr`, head at `head_lr`; no weight decay on biases and norms."""
        cfg = self.cfg
        params = dict(model.named_parameters())
        groups = model.parameter_groups()
        trainable = {n for n, p in params.items() if p.requires_grad}
        stray = trainable - set(groups["lora"]) - set(groups["head"])
        if stray:
            raise RuntimeError(f"trainable parameters outside the LoRA and head groups: {sorted(stray)[:5]}")
        out = []
        for key, lr in (("lora", cfg.lr), ("head", cfg.head_lr)):
            for decay in (True, False):
                chosen = [params[n] for n in groups[key] if (params[n].ndim >= 2) == decay]
                if chosen:
                    out.append({"params": chosen, "lr": lr, "weight_decay": cfg.weight_decay if decay else 0.0})
        return out

    def _level_bins(self, train_ds) -> tuple[np.ndarray, list]:
        """Level (0..4) of every train edit per dimension: five equal bins of the train split's
        [min, max] MOS (paper eq. 5); IGNORE_LEVEL where an edit has no MOS. Also the [min, max]
        per dimension (None where a dimension has too few values to bin)."""
        from edithf.data.annotations import quality_levels

        mos = train_ds.edits.reindex(columns=MOS_COLUMNS).to_numpy(float)  # (N, D)
        levels = np.full(mos.shape, losses.IGNORE_LEVEL, dtype=np.int64)
        ranges = [None] * mos.shape[1]
        for d in range(mos.shape[1]):
            col = mos[:, d]
            if np.isfinite(col).sum() >= 2 and np.nanmax(col) > np.nanmin(col):
                found = quality_levels(col)
                levels[:, d] = np.where(found < 0, losses.IGNORE_LEVEL, found)
                ranges[d] = [float(np.nanmin(col)), float(np.nanmax(col))]
        return levels, ranges

    @staticmethod
    def _use_level_ranges(core, ranges: list) -> None:
        """The expected score's level values become the centres of the bins the textual stage
        trains on; stored in the model's config, so best/ carries them."""
        lo, hi = core.cfg.score_range
        core.cfg.level_ranges = [r or [lo, hi] for r in ranges]
        core.level_values = torch.tensor(core.cfg.level_values, device=core.level_values.device)

    def _make_stage(self, name: str, index: int, train_ds, levels: np.ndarray) -> Stage:
        cfg = self.cfg
        where = f"split {cfg.train_split!r} of {cfg.dataset}"
        if train_ds.edits.empty:
            raise ValueError(f"{where} has no edits; the dataset's splits are "
                             f"{self._split_counts(cfg.dataset)}; set train_split=")
        if name in ("textual", "pointwise"):
            has_label = (levels != losses.IGNORE_LEVEL) if name == "textual" else \
                train_ds.edits.reindex(columns=MOS_COLUMNS).notna().to_numpy()
            keep = has_label.any(axis=1)
            if not keep.any():
                raise ValueError(f"stage {name} needs MOS: no edit of {where} has a value in "
                                 f"{MOS_COLUMNS} (textual also needs at least two different values); "
                                 f"remove the stage (stages=[pairwise]) or add ratings "
                                 f"(`edithf data process`)")
            items = EditItems(train_ds, train_ds.edits[keep], levels[keep])
            sampler, collate = EpochSampler(len(items), cfg.seed + 1000 * index), collate_edits
        else:
            pairs = train_ds.pairs
            if pairs is None or pairs.empty:
                raise ValueError(f"stage pairwise needs preference pairs: {where} has none (pairs.parquet "
                                 f"missing or empty); build them with `edithf data process` or remove the stage")
            items = PairItems(train_ds, pairs, train_ds.edits)
            sampler = EpochSampler(len(items), cfg.seed + 1000 * index, items.gaps, cfg.curriculum,
                                   cfg.curriculum_buckets, cfg.pairs_per_epoch)
            collate = collate_pairs
        loader = DataLoader(items, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate,
                            num_workers=cfg.num_workers)
        return Stage(name, loader, cfg.epochs_of(index), 0)

    def _make_eval_loader(self, dataset) -> DataLoader | None:
        cfg = self.cfg
        if not cfg.eval_split:
            return None
        eval_ds = dataset.split(cfg.eval_split)
        if eval_ds.edits.empty:
            raise ValueError(f"split {cfg.eval_split!r} of {cfg.dataset} has no edits (splits: "
                             f"{self._split_counts(cfg.dataset)}); set eval_split= to another split, or "
                             f"eval_split='' to train without evaluation")
        items = EditItems(eval_ds, eval_ds.edits)
        return DataLoader(items, batch_size=cfg.eval_batch_size, sampler=SequentialSampler(items),
                          collate_fn=collate_edits, num_workers=cfg.num_workers)

    @staticmethod
    def _split_counts(path) -> dict:
        from edithf.data.dataset import load_dataset

        edits = load_dataset(path, validate=False).edits
        return edits["split"].value_counts().to_dict() if "split" in edits else {}

    # ==================================================================== schedule
    def _plan_steps(self) -> None:
        """Optimizer steps of every stage, cut by max_steps; sets `total_steps`."""
        start = 0
        for stage in self.stages:
            stage.steps_per_epoch = math.ceil(len(stage.loader) / self.cfg.grad_accum)
            full = stage.steps_per_epoch * stage.epochs
            stage.start = start
            stage.steps = full if not self.cfg.max_steps else max(0, min(full, self.cfg.max_steps - start))
            start += stage.steps
        self.total_steps = start

    def _lr_factor(self, step: int) -> float:
        """Multiplier of the peak LR at global optimizer step `step`: per stage, a linear warm-up
        then cosine / linear decay (or constant)."""
        stage = next((s for s in self.stages if step < s.start + s.steps), None)
        if stage is None:
            return 0.0
        t, n = step - stage.start, stage.steps
        warm = self.cfg.warmup * n if self.cfg.warmup < 1 else min(self.cfg.warmup, n)
        if t < warm:
            return (t + 1) / (warm + 1)
        progress = (t - warm) / max(1.0, n - warm)
        if self.cfg.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if self.cfg.lr_schedule == "linear":
            return 1.0 - progress
        return 1.0

    # ==================================================================== small helpers
    def _optimizer(self):
        return getattr(self.optimizer, "optimizer", self.optimizer)

    def _unit(self, mos):
        """MOS in the model's score range -> [0, 1] units (what the head predicts)."""
        lo, hi = self.score_range
        return (mos - lo) / (hi - lo)

    def _progress(self) -> float:
        return min(1.0, self.state.global_step / self.total_steps) if self.total_steps else 1.0

    def _log(self, stage: Stage, values: dict) -> None:
        st = self.state
        self.log.write({"step": st.global_step, "epoch": round(self.epoch_float, 4), "stage": stage.name,
                        "progress": round(self._progress(), 6), **values})

