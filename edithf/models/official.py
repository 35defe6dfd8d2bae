"""Loader of the published EditHF checkpoints (IntMeGroup/EditHF layout, docs/design.md section 7).

Layout: one folder per dimension, `visual/`, `alignment/`, `preservation/`, each holding
`vision_lora/` and `llm_lora/` (peft adapters of the vision tower and the language model) and
`mlp_head.pth` (an MLP hidden -> hidden/2 -> 128 -> 1, ReLU between).

Scoring rule, as the published inference code does it: the prompt below with each image one
448x448 tile, followed by the literal " The quality score is 00.00", tokenised without a chat
template; the last-layer hidden state at position -6 goes through the MLP;
score = |MLP(h)| * 100. One forward pass per dimension (each has its own adapters).

`mlp_head.pth` is a torch state dict (the published format); it is read with
`torch.load(..., weights_only=True)`, the loader that refuses pickled code.

The backbone is transformers-native InternVL (e.g. `OpenGVLab/InternVL3_5-8B-HF`). The published
adapters were trained on the remote-code InternVL, whose module names differ; they are converted
on load (into a temporary folder, exactly, see `convert_remote_adapter`): vision `layers` ->
`layer`, `attn.proj` -> `attention.projection_layer`, the fused `attn.qkv` LoRA split into
`q_proj`/`k_proj`/`v_proj` (same A, B cut in three rows blocks: B_q A is exactly the q rows of
B A), and the language model's extra `model.` prefix dropped (remote Qwen3ForCausalLM vs native
Qwen3Model). The adapter's peft `task_type` (InternVL's `wrap_llm_lora` writes CAUSAL_LM) is
dropped: it is a wrapper for whole causal LMs, not for the sub-modules the adapters load onto.
Adapters already in native names and without a task type load as they are.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from edithf.data.schema import DIMENSIONS
from edithf.models import backbones, families
from edithf.models.edithf_config import EditHFConfig

# our dimension name -> the published folder name and the aspect named in its prompt
FOLDERS = {"quality": "visual", "alignment": "alignment", "preservation": "preservation"}
ASPECTS = {"quality": "visual quality", "alignment": "editing instruction alignment",
           "preservation": "attribute preservation"}
ANSWER_SUFFIX = " The quality score is 00.00"
READ_POSITION = -6
DEFAULT_BACKBONE = "OpenGVLab/InternVL3_5-8B-HF"


def official_prompt(instruction: str, dimension: str, image_token: str = "<image>") -> str:
    """The published query for one dimension, with the answer suffix appended."""
    query = (
        f"With the image editing prompt [{instruction}], the source image <image> is edited to generate "
        f"the target image <image>. Please rate the target image from {ASPECTS[dimension]} aspect on a "
        "scale of 0-100. Just reply a sentence in the following format: "
        "[The quality score is XX.XX (a number with two decimal)]"
    )
    return query.replace("<image>", image_token) + ANSWER_SUFFIX


class MLPRegressor(nn.Module):
    """The published head; parameter names (`mlp.0.weight` ...) match `mlp_head.pth`."""

    def __init__(self, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, 128),
                                 nn.ReLU(), nn.Linear(128, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B,)
        return self.mlp(h).squeeze(-1)


class OfficialEditHF(nn.Module):
    """The three published per-dimension models on one shared InternVL backbone."""

    def __init__(self, path: str, *, backbone: str = DEFAULT_BACKBONE, image_size: int = 448,
                 tiny_seed: int = 0, device: str | None = "auto", dtype: str = "auto"):
        super().__init__()
        folder = backbones.resolve_folder(path, "visual")
        self.cfg = EditHFConfig(backbone=backbone, tiny_seed=tiny_seed, image_size=image_size, dtype=dtype)
        base, self.processor, family = backbones.load_backbone(self.cfg)
        if family != "internvl":
            raise ValueError(f"the published EditHF checkpoints are InternVL adapters; {backbone!r} is {family}")
        self.adapter = families.adapter_for(family)
        self.base = base
        self.dimensions = [d for d in DIMENSIONS if (folder / FOLDERS[d]).is_dir()]
        if not self.dimensions:
            raise FileNotFoundError(f"{folder} holds none of the folders {sorted(FOLDERS.values())}")
        self._load_adapters(folder)
        hidden = backbones.text_hidden_size(base)
        self.heads = nn.ModuleDict({d: _load_head(folder / FOLDERS[d] / "mlp_head.pth", hidden) for d in self.dimensions})
        self.to(backbones.pick_device(device)).eval()

    def _load_adapters(self, folder: Path) -> None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="edithf-official-") as scratch:
            for part, name in (("vision_tower", "vision_lora"), ("language_model", "llm_lora")):
                self._load_part(folder, part, name, Path(scratch))

    def _load_part(self, folder: Path, part: str, name: str, scratch: Path) -> None:
        from peft import PeftModel

        from edithf.models.lora import quiet_peft

        inner = self.base.model
        module = getattr(inner, part)
        for i, dim in enumerate(self.dimensions):
            adapter = folder / FOLDERS[dim] / name
            if not adapter.is_dir():
                raise FileNotFoundError(f"missing adapter folder {adapter}")
            adapter = convert_remote_adapter(adapter, part, scratch / dim / name)
            try:
                if i == 0:
                    with quiet_peft():
                        module = PeftModel.from_pretrained(module, str(adapter), adapter_name=dim)
                else:
                    module.load_adapter(str(adapter), adapter_name=dim)
            except ValueError as exc:  # peft: target modules not found in the base model
                raise ValueError(
                    f"{adapter} does not fit the transformers-native InternVL {part} ({exc}); is it an "
                    "InternVL adapter of this backbone size?") from exc
        setattr(inner, part, module)

    def _use(self, dim: str) -> None:
        for part in (self.base.model.vision_tower, self.base.model.language_model):
            part.set_adapter(dim)

    @torch.no_grad()
    def score(self, sources: list, edited: list, prompts: list[str]):
        """Scores (B, n_dims) as numpy in [0, 100]-ish units (|MLP| * 100 is not clipped)."""
        out = []
        for dim in self.dimensions:
            self._use(dim)
            h = self.hidden_at_minus_6(sources, edited, [official_prompt(p, dim, self._image_token) for p in prompts])
            out.append(self.heads[dim](h.float()).abs() * 100)
        return torch.stack(out, dim=1).cpu().numpy()

    @property
    def _image_token(self) -> str:
        return self.processor.image_token  # expanded by the processor to <img> + context tokens + </img>

    def hidden_at_minus_6(self, sources, edited, texts) -> torch.Tensor:
        """Last-layer hidden state 6 tokens before the end (left padding keeps ends aligned) -> (B, H)."""
        batch = backbones.encode_images_and_text(self.processor, self.adapter, self.cfg, sources, edited, texts)
        batch = backbones.to_model(batch, self.base)
        return self.base.model(**batch, use_cache=False).last_hidden_state[:, READ_POSITION]


REMOTE_VISION = ((r"\.encoder\.layers\.", ".encoder.layer."), (r"\.attn\.proj\.", ".attention.projection_layer."),
                 (r"\.attn\.", ".attention."))
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def convert_remote_adapter(folder: Path, part: str, out: Path) -> Path:
    """`folder` if it already loads onto the native sub-module (native keys, no task type), else a
    converted copy written to `out`."""
    import json

    from safetensors.torch import load_file, save_file

    weights = folder / ADAPTER_WEIGHTS
    if not weights.exists():
        bin_file = folder / "adapter_model.bin"
        if not bin_file.exists():
            raise FileNotFoundError(f"{folder} has no {ADAPTER_WEIGHTS}")
        state = torch.load(bin_file, map_location="cpu", weights_only=True)  # safe loader, tensors only
    else:
        state = load_file(str(weights))
    prefix = "base_model.model."
    remote = any(".attn.qkv." in k or ".encoder.layers." in k for k in state) if part == "vision_tower" else \
        any(k.startswith(prefix + "model.layers.") for k in state)
    config = json.loads((folder / "adapter_config.json").read_text())
    if not remote and config.get("task_type") is None:
        return folder
    converted = _native_keys(state, part, prefix) if remote else state
    if config.get("rank_pattern") or config.get("alpha_pattern"):
        raise ValueError(f"{folder}: per-module rank/alpha patterns cannot be converted; use a uniform LoRA")
    if remote:
        modules = sorted({k[len(prefix):].split(".lora_")[0] for k in converted if ".lora_" in k})
        config["target_modules"] = modules  # exact module names of the native sub-module
    # InternVL's wrap_llm_lora saves task_type=CAUSAL_LM (other trainers: SEQ_CLS, FEATURE_EXTRACTION...):
    # peft then wraps in a task class that needs the causal LM's generation hooks, which the native
    # sub-module (Qwen2Model, InternVLVisionModel) lacks. Only the LoRA layers are used here.
    config["task_type"] = None
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_text(json.dumps(config))
    save_file(converted, str(out / ADAPTER_WEIGHTS))
    return out


def _native_keys(state: dict, part: str, prefix: str) -> dict:
    """Remote-code InternVL LoRA keys -> transformers-native ones (the module docstring)."""
    import re

    converted = {}
    for key, value in state.items():
        if part == "language_model":
            converted[key.replace(prefix + "model.", prefix, 1)] = value
            continue
        for pattern, repl in REMOTE_VISION:
            key = re.sub(pattern, repl, key)
        if ".attention.qkv." not in key:
            converted[key] = value
        elif ".lora_A." in key:  # the same input projection A for q, k and v
            for name in ("q_proj", "k_proj", "v_proj"):
                converted[key.replace(".qkv.", f".{name}.")] = value.clone()
        else:  # lora_B (3D, r): its row blocks are the q, k and v parts of B A
            for name, block in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                converted[key.replace(".qkv.", f".{name}.")] = block.contiguous()
    return converted


def _load_head(path: Path, hidden: int) -> MLPRegressor:
    if not path.exists():
        raise FileNotFoundError(f"missing {path}: each dimension folder needs its mlp_head.pth")
    head = MLPRegressor(hidden)
    state = torch.load(path, map_location="cpu", weights_only=True)  # safe loader: tensors only, no code
    try:
        head.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path} is not an MLP {hidden} -> {hidden // 2} -> 128 -> 1 for this backbone: {exc}") from exc
    return head
