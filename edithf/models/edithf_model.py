"""EditHFModel: an MLLM backbone + LoRA (vision and language) + an MLP score head.

One forward pass scores all three dimensions. The sequence is

    <chat prompt: [instruction + rubric][source image][edited image]> <assistant>
    "Quality level:" "Alignment level:" "Preservation level:"      (teacher-forced, no answers)

and we read the last hidden state at the last token of each answer segment -> h (B, 3, H).
- score head: a shared MLP trunk over h plus one output unit per dimension (sigmoid) ->
  scores (B, 3) in [0, 1] units. Why shared + per-dimension outputs: the trunk learns "what a
  good edit looks like" from all three kinds of labels, the outputs keep the dimensions apart;
  the inputs already differ per dimension (different positions, causal attention), so the
  three numbers differ even before training.
- the language head at the same positions, restricted to the first token of each level word
  -> level_logits (B, 3, 5); expected = sum_k softmax_k * level_value_k (Q-Align style), in
  [0, 1] units.

No gold level word is ever inserted, so nothing leaks from labels into the scores.

The instruction and the source image come first because every edit of a group shares them:
`prepare_prefix` runs them once (vision features and the key/value cache), `forward_shared`
continues that cache for each batch of edited images, with the same numbers as `forward`.

    model = EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl"))
    batch = model.prepare(sources, edited, prompts)    # dict of tensors, incl. read_index (B, 3)
    out = model(**batch)                               # EditHFOutput(scores, level_logits, expected)
    model.score(sources, edited, prompts)              # np.ndarray (B, 3) in [0, 100]
    model.score_group(source, edited, prompt)          # N edits of one source: shared prefix once
    model.save_pretrained("out/"); EditHFModel.from_pretrained("out/")
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from edithf.models import backbones, families
from edithf.models.edithf_config import EditHFConfig
from edithf.utils.io import atomic_dir

CONFIG_NAME = "edithf_config.json"
HEAD_NAME = "head.safetensors"
ADAPTER_DIR = "adapter"
TINY_WEIGHTS = "tiny_backbone.safetensors"
FORMAT_VERSION = 2  # 2: the instruction comes before the two images (families.chat_texts); 1 had it after


@dataclass
class SharedPrefix:
    batch: dict  # processor output of the prefix, one row, on the model's device
    cache: object  # its transformers DynamicCache (copied and batch-expanded per batch of edits)
    suffix_text: str  # the per-edit rest of the chat text


@dataclass
class EditHFOutput:
    scores: torch.Tensor  # (B, D) in [0, 1] units
    level_logits: torch.Tensor  # (B, D, L) LM logits of the level words' first tokens
    expected: torch.Tensor  # (B, D) sum_k softmax(level_logits)_k * level_value_k, [0, 1] units


class ScoreHead(nn.Module):
    """Shared MLP trunk H -> hidden... then one linear output per dimension, sigmoid."""

    def __init__(self, in_dim: int, hidden: list[int], n_dims: int, dropout: float = 0.0):
        super().__init__()
        layers, prev = [], in_dim
        for width in hidden:
            layers += [nn.Linear(prev, width), nn.GELU(), nn.Dropout(dropout)]
            prev = width
        self.trunk = nn.Sequential(*layers)
        self.out = nn.Linear(prev, n_dims)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # h (B, D, H) -> (B, D)
        z = self.out(self.trunk(h))  # (B, D, D): every output unit at every position
        per_dim = torch.diagonal(z, dim1=1, dim2=2)  # output d read at position d -> (B, D)
        return torch.sigmoid(per_dim)


class EditHFModel(nn.Module):
    def __init__(self, cfg: EditHFConfig, backbone: nn.Module, processor, family: str):
        super().__init__()
        self.cfg = cfg
        self.family = family
        self.processor = processor
        self.adapter = families.adapter_for(family)
        self.backbone = backbone  # a peft PeftModel around the transformers model
        hidden = backbones.text_hidden_size(backbone)
        with torch.random.fork_rng(devices=[]):  # a fresh head is deterministic from the config's seed
            torch.manual_seed(cfg.tiny_seed)
            self.head = ScoreHead(hidden, list(cfg.head_hidden), len(cfg.dimensions), cfg.head_dropout)
        self.level_token_ids = backbones.level_token_ids(processor.tokenizer, cfg.levels)
        self.register_buffer("level_values", torch.tensor(cfg.level_values), persistent=False)

    # -- building ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: EditHFConfig, *, device: str | None = None) -> "EditHFModel":
        """Build the backbone (hub id, folder or tiny:*), wrap it with LoRA, add a fresh head."""
        base, processor, family = backbones.load_backbone(cfg)
        cfg = dataclasses.replace(cfg, family=family)
        model = cls(cfg, backbones.add_lora(base, cfg), processor, family)
        return model.to(backbones.pick_device(device))

    @classmethod
    def from_pretrained(cls, path: str, *, device: str | None = None) -> "EditHFModel":
        """Read a folder written by `save_pretrained` (or a hub id holding one); no pickle."""
        from peft import PeftModel
        from safetensors.torch import load_file

        from edithf.models.lora import quiet_peft

        folder = backbones.resolve_folder(path, CONFIG_NAME)
        cfg = _read_config(folder / CONFIG_NAME)
        base, processor, family = backbones.load_backbone(cfg)
        tiny = folder / TINY_WEIGHTS
        if tiny.exists():  # the random base weights of a tiny:* backbone, exactly as trained
            base.load_state_dict(load_file(str(tiny)), strict=True)
        with quiet_peft():
            peft_model = PeftModel.from_pretrained(base, str(folder / ADAPTER_DIR), is_trainable=True)
        model = cls(cfg, peft_model, processor, family)
        model.head.load_state_dict(load_file(str(folder / HEAD_NAME)), strict=True)
        return model.to(backbones.pick_device(device))

    def save_pretrained(self, path: str | Path) -> Path:
        """Write config JSON, LoRA adapter (peft), head (safetensors), tiny base weights; atomic."""
        from safetensors.torch import save_file

        with atomic_dir(path) as tmp:
            cfg = dataclasses.asdict(self.cfg)
            cfg.update(format_version=FORMAT_VERSION, head_in=self.head.out.in_features,
                       level_values=self.cfg.level_values, hidden_size=backbones.text_hidden_size(self.backbone))
            (tmp / CONFIG_NAME).write_text(json.dumps(cfg, indent=2))
            self.backbone.save_pretrained(str(tmp / ADAPTER_DIR))
            save_file(_cpu_state(self.head.state_dict()), str(tmp / HEAD_NAME))
            if families.parse_tiny(self.cfg.backbone):
                save_file(_cpu_state(backbones.base_state_dict(self.backbone)), str(tmp / TINY_WEIGHTS))
        return Path(path)

    # -- inputs --------------------------------------------------------------------------
    def prepare(self, sources: list, edited: list, prompts: list[str]) -> dict[str, torch.Tensor]:
        """Processor output for a batch (left-padded, on the model's device) plus
        `read_index` (B, D): the positions whose hidden states are scored."""
        if not (len(sources) == len(edited) == len(prompts)):
            raise ValueError(f"sources, edited and prompts must have the same length; got "
                             f"{len(sources)}, {len(edited)}, {len(prompts)}")
        if not prompts:
            raise ValueError("empty batch: pass at least one (source, edited, prompt) triple")
        texts = [self._user_prompt(p) for p in prompts]
        batch = backbones.encode_with_answer(
            self.processor, self.adapter, self.cfg, sources, edited, texts, list(self.cfg.answer_prefixes))
        return backbones.to_model(batch, self.backbone.get_base_model())

    def _user_prompt(self, instruction: str) -> str:
        instruction = backbones.truncate_tokens(
            self.processor.tokenizer, instruction.strip(), self.cfg.max_instruction_tokens)
        if not instruction:
            raise ValueError("empty instruction: every edit needs the instruction it followed")
        return self.cfg.instruction_template.format(instruction=instruction, rubric="\n".join(self.cfg.rubrics))

    @torch.no_grad()
    def prepare_prefix(self, source, prompt: str) -> SharedPrefix:
        """The part of the prompt every edit of (source, prompt) shares, run once: its batch and
        its key/value cache (the source's vision features included). For scoring: no gradients."""
        base = self.backbone.get_base_model()
        batch, suffix_text = backbones.encode_prefix(self.processor, self.adapter, self.cfg, source,
                                                     self._user_prompt(prompt))
        batch = backbones.to_model(batch, base)
        return SharedPrefix(batch, backbones.prefix_cache(base, batch), suffix_text)

    # -- forward -------------------------------------------------------------------------
    def forward(self, read_index: torch.Tensor, **inputs) -> EditHFOutput:
        """Scores, level logits and expected scores of every dimension in one pass."""
        return self._outputs(self.hidden_at(read_index, **inputs))

    def forward_shared(self, prefix: SharedPrefix, edited: list) -> EditHFOutput:
        """`forward` for edits that continue one shared prefix (`prepare_prefix`): only the
        edited images and the answer are run; equal to `forward` on the whole prompts."""
        base = self.backbone.get_base_model()
        suffix = backbones.encode_suffix(self.processor, self.adapter, self.cfg, edited, prefix.suffix_text,
                                         list(self.cfg.answer_prefixes))
        return self._outputs(backbones.shared_hidden_at(base, prefix.batch, prefix.cache, backbones.to_model(suffix, base)))

    def _outputs(self, hidden: torch.Tensor) -> EditHFOutput:
        scores = self.head(hidden.float())  # (B, D)
        level_logits = backbones.logits_for_tokens(self.backbone.get_base_model(), hidden, self.level_token_ids)
        expected = (level_logits.softmax(-1) * self.level_values).sum(-1)  # (B, D)
        return EditHFOutput(scores=scores, level_logits=level_logits, expected=expected)

    def hidden_at(self, read_index: torch.Tensor, **inputs) -> torch.Tensor:
        """Last-layer hidden states at `read_index` (B, D) -> (B, D, H). Runs the backbone's inner
        model (LoRA included) without the full-vocabulary LM head."""
        return backbones.hidden_at(self.backbone.get_base_model(), read_index, **inputs)

    @contextlib.contextmanager
    def _eval_mode(self):
        """Eval mode (no dropout) for scoring; the train/eval mode the caller had comes back after."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    @torch.no_grad()
    def score(self, sources: list, edited: list, prompts: list[str]):
        """Scores (B, D) as numpy, in the config's score range ([0, 100] by default)."""
        with self._eval_mode():
            out = self(**self.prepare(sources, edited, prompts))
        return self.to_score_range(out.scores)

    @torch.no_grad()
    def group_outputs(self, source, edited: list, prompt: str, batch_size: int = 8) -> list[EditHFOutput]:
        """The outputs of N edits of one source under one instruction, one per batch of
        `batch_size` edits: the shared prefix once (`prepare_prefix`), then `forward_shared`."""
        prefix = self.prepare_prefix(source, prompt)
        return [self.forward_shared(prefix, edited[i:i + batch_size]) for i in range(0, len(edited), batch_size)]

    @torch.no_grad()
    def score_group(self, source, edited: list, prompt: str, batch_size: int = 8):
        """Scores (N, D) of N edits of one source under one instruction (a group, best-of-N
        candidates, the seeds of one instruction): the shared prefix once, the edits in batches."""
        with self._eval_mode():
            outs = self.group_outputs(source, edited, prompt, batch_size)
        return self.to_score_range(torch.cat([o.scores for o in outs]))

    def to_score_range(self, scores: torch.Tensor):
        """[0, 1]-unit tensor -> numpy in the config's score range (clipped)."""
        lo, hi = self.cfg.score_range
        return (lo + scores.float().clamp(0, 1) * (hi - lo)).cpu().numpy()

    @torch.no_grad()
    def levels(self, out: EditHFOutput) -> list[list[str]]:
        """The most probable level word per row and dimension."""
        return [[self.cfg.levels[k] for k in row] for row in out.level_logits.argmax(-1).tolist()]

    # -- training helpers ----------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[str]]:
        """Names (as in `named_parameters()`) of the trainable parameters: {"lora": [...], "head": [...]}."""
        names = [n for n, p in self.named_parameters() if p.requires_grad]
        return {"lora": [n for n in names if "lora_" in n], "head": [n for n in names if n.startswith("head.")]}

    @property
    def device(self) -> torch.device:
        return next(self.head.parameters()).device


def _cpu_state(state: dict) -> dict:
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def _read_config(path: Path) -> EditHFConfig:
    data = json.loads(path.read_text())
    if data.get("format_version", 1) < FORMAT_VERSION:
        raise ValueError(f"{path} was saved in format {data.get('format_version', 1)}, whose prompt put the "
                         f"instruction after the images; this version (format {FORMAT_VERSION}) puts it first "
                         "and would score that checkpoint wrongly: retrain it with `edithf train`")
    names = {f.name for f in dataclasses.fields(EditHFConfig)}
    return EditHFConfig(**{k: v for k, v in data.items() if k in names})
