"""Per-family backbone adapters: loading, processors without torchvision, prompts, LoRA, batching.

Families: `internvl` (transformers-native InternVL / InternVL3.5 "-HF" checkpoints), `qwen2_vl`,
`qwen2_5_vl`. A backbone is a hub id, a local folder, or `tiny:<family>` (edithf.models.tiny).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from edithf.models.tiny import make_tiny_backbone, parse_tiny_id, tiny_size

FAMILIES = ("internvl", "qwen2_vl", "qwen2_5_vl")


@dataclass(frozen=True)
class FamilyAdapter:
    family: str
    model_keys: tuple[str, ...]  # processor outputs the model's forward takes

    def processor_kwargs(self, cfg) -> dict:
        """Image settings for the processor call (tiny processors keep their fixed size)."""
        tiny = cfg.backbone.startswith("tiny:")
        if self.family == "internvl":  # one tile per image, as the paper and official code do
            size = {} if tiny else {"size": {"height": cfg.image_size, "width": cfg.image_size}}
            return {"crop_to_patches": False, **size}
        return {} if tiny else {"max_pixels": cfg.max_pixels}


def adapter_for(family: str) -> FamilyAdapter:
    if family == "internvl":
        return FamilyAdapter(family, ("input_ids", "attention_mask", "pixel_values"))
    if family in ("qwen2_vl", "qwen2_5_vl"):
        return FamilyAdapter(family, ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values",
                                      "image_grid_thw"))
    raise ValueError(f"backbone family {family!r} is not supported; supported: {FAMILIES}")


@lru_cache(maxsize=None)
def processor_class(family: str):
    """The family's processor with the video slot dropped: without torchvision, transformers
    cannot build a video processor and ProcessorMixin fails even with video_processor=None
    (notes/offline.md). Images behave exactly as in the original class."""
    if family == "internvl":
        from transformers import InternVLProcessor as base
    elif family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor as base
    elif family == "qwen2_vl":
        from transformers import Qwen2VLProcessor as base
    else:
        raise ValueError(f"backbone family {family!r} is not supported; supported: {FAMILIES}")

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return type(f"{base.__name__}ImageOnly", (base,), {"__init__": __init__})


def resolve_folder(path: str, marker: str) -> Path:
    """A local folder holding `marker`, or a hub repo id downloaded to the local cache."""
    folder = Path(path).expanduser()
    if folder.is_dir():
        if not (folder / marker).exists():
            raise FileNotFoundError(f"{folder} has no {marker}: is it a folder written by save_pretrained?")
        return folder
    if folder.exists():
        raise FileNotFoundError(f"expected a folder or a hub id, got the file {folder}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(path))
    except Exception as exc:  # offline, unknown repo, bad id: say what was tried
        raise FileNotFoundError(
            f"{path!r} is neither a local folder nor a reachable hub repo ({exc.__class__.__name__}: {exc})"
        ) from exc


def detect_family(backbone: str) -> str:
    tiny = parse_tiny_id(backbone)
    if tiny:
        return tiny
    from transformers import AutoConfig

    model_type = AutoConfig.from_pretrained(backbone).model_type
    adapter_for(model_type)  # raises a clear error for unsupported families
    return model_type


def torch_dtype(name: str, device: str | torch.device | None = None) -> torch.dtype:
    if name == "auto":
        return torch.bfloat16 if pick_device(device).type == "cuda" else torch.float32
    return getattr(torch, name)


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_backbone(cfg):
    """(transformers model, processor, family) for cfg.backbone."""
    family = detect_family(cfg.backbone) if cfg.family == "auto" else cfg.family
    tiny = parse_tiny_id(cfg.backbone)
    if tiny:
        model, processor = make_tiny_backbone(tiny, cfg.tiny_seed, tiny_size(cfg.backbone))
        return model, processor, family
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(cfg.backbone, dtype=torch_dtype(cfg.dtype))
    return model.eval(), load_processor(cfg.backbone, family), family


def load_processor(backbone: str, family: str):
    """AutoProcessor where it works; otherwise the family's image-only processor built from the
    checkpoint's tokenizer, image processor and chat template (no torchvision here)."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    try:
        processor = AutoProcessor.from_pretrained(backbone)
    except (AttributeError, ImportError, ValueError, OSError):
        processor = None
    if not hasattr(processor, "image_processor"):  # failed, or fell back to a bare tokenizer
        tokenizer = AutoTokenizer.from_pretrained(backbone)
        image_processor = AutoImageProcessor.from_pretrained(backbone)
        extra = _processor_extras(backbone)
        if family == "internvl":  # tokens per tile; the model config holds it when the processor file does not
            from transformers import AutoConfig

            extra.setdefault("image_seq_length", AutoConfig.from_pretrained(backbone).image_seq_length)
        processor = processor_class(family)(image_processor=image_processor, tokenizer=tokenizer,
                                            chat_template=extra.pop("chat_template", None), **extra)
    processor.tokenizer.padding_side = "left"
    return processor


def _processor_extras(backbone: str) -> dict:
    """chat_template and (InternVL) image_seq_length from a checkpoint folder or repo."""
    from huggingface_hub import hf_hub_download

    def read(name):
        local = Path(backbone) / name
        if local.exists():
            return local.read_text()
        try:
            return Path(hf_hub_download(backbone, name)).read_text()
        except Exception:
            return None

    extras = {}
    template = read("chat_template.jinja") or (json.loads(read("chat_template.json") or "{}").get("chat_template"))
    if template:
        extras["chat_template"] = template
    proc_cfg = json.loads(read("processor_config.json") or "{}")
    if "image_seq_length" in proc_cfg:
        extras["image_seq_length"] = proc_cfg["image_seq_length"]
    return extras


def add_lora(model, cfg):
    """Wrap with peft LoRA on the vision tower, projector and language model (cfg.lora_targets).
    peft initialises every lora_B to zero, so the wrapped model starts equal to the base."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.lora_targets, bias="none")
    _check_targets(model, cfg.lora_targets)
    return get_peft_model(model, lora)


def _check_targets(model, pattern: str) -> None:
    import re

    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and re.fullmatch(pattern, n)]
    vision = [n for n in names if "language_model" not in n]
    language = [n for n in names if "language_model" in n]
    if not vision or not language:
        raise ValueError(f"lora_targets {pattern!r} matched {len(vision)} vision and {len(language)} language "
                         "linear layers; it must match both (full module names, peft fullmatch)")


def base_state_dict(peft_model) -> dict:
    """The base model's weights without LoRA, under the plain transformers names."""
    state = peft_model.get_base_model().state_dict()
    return {k.replace(".base_layer.", "."): v for k, v in state.items() if "lora_" not in k}


def text_hidden_size(model) -> int:
    config = model.config
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(text.hidden_size)


def level_token_ids(tokenizer, levels) -> list[int]:
    """First token of " <level>" for each level word; they must all differ."""
    ids = [tokenizer.encode(" " + word, add_special_tokens=False)[0] for word in levels]
    if len(set(ids)) != len(ids):
        pieces = [tokenizer.convert_ids_to_tokens(i) for i in ids]
        raise ValueError(f"level words {list(levels)} start with the same tokens {pieces}; "
                         "pick level words whose first tokens differ for this tokenizer")
    return ids


def truncate_tokens(tokenizer, text: str, max_tokens: int) -> str:
    """Cut `text` to at most `max_tokens` tokens (long instructions would overflow the context)."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens])


def chat_texts(processor, user_texts: list[str]) -> list[str]:
    """ChatML prompt per sample: [source image][edited image][user text], then the assistant turn."""
    texts = []
    for user in user_texts:
        content = [{"type": "text", "text": "Source image: "}, {"type": "image"},
                   {"type": "text", "text": "\nEdited image: "}, {"type": "image"},
                   {"type": "text", "text": "\n" + user}]
        messages = [{"role": "user", "content": content}]
        texts.append(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    return texts


def encode_images_and_text(processor, adapter, cfg, sources, edited, texts) -> dict[str, torch.Tensor]:
    """Processor output (left-padded) for prompts that hold two images each."""
    images = [img for pair in zip(sources, edited) for img in pair]  # s0, e0, s1, e1, ...
    out = processor(text=texts, images=images, padding=True, return_tensors="pt",
                    **adapter.processor_kwargs(cfg))
    return {k: out[k] for k in adapter.model_keys if k in out}


def encode_with_answer(processor, adapter, cfg, sources, edited, user_texts, prefixes) -> dict[str, torch.Tensor]:
    """Prompt + teacher-forced answer segments; `read_index` (B, D) = last token of each segment.

    Left padding puts every prompt's end at the same column, so the segments (tokenised on
    their own, "\\n" between them) are appended as one block and land at the same positions in
    every row.
    """
    batch = encode_images_and_text(processor, adapter, cfg, sources, edited, chat_texts(processor, user_texts))
    tok = processor.tokenizer
    segments = [tok.encode(("\n" if i else "") + p, add_special_tokens=False) for i, p in enumerate(prefixes)]
    answer = torch.tensor([t for seg in segments for t in seg], dtype=batch["input_ids"].dtype)
    n, width = batch["input_ids"].shape
    appended = {"input_ids": answer.expand(n, -1), "attention_mask": torch.ones(n, len(answer)),
                "mm_token_type_ids": torch.zeros(n, len(answer))}  # answer tokens are text
    for key, extra in appended.items():
        if key in batch:
            batch[key] = torch.cat([batch[key], extra.to(batch[key].dtype)], dim=1)
    ends = torch.tensor([len(s) for s in segments]).cumsum(0) - 1 + width  # (D,)
    batch["read_index"] = ends.expand(n, -1).contiguous()
    return batch


def hidden_at(model, read_index: torch.Tensor, **inputs) -> torch.Tensor:
    """Last-layer hidden states of a transformers VLM at `read_index` (B, D) -> (B, D, H). Runs the
    inner model (LoRA layers included) and skips the full-vocabulary LM head."""
    last = model.model(**inputs, use_cache=False).last_hidden_state  # (B, T, H)
    idx = read_index.unsqueeze(-1).expand(-1, -1, last.shape[-1])  # (B, D, H)
    return last.gather(1, idx)


def logits_for_tokens(model, hidden: torch.Tensor, token_ids: list[int]) -> torch.Tensor:
    """The LM head's logits of `token_ids` only: hidden (..., H) -> (..., len(token_ids)), float32."""
    lm_head = model.get_output_embeddings()
    ids = torch.as_tensor(token_ids, device=hidden.device)
    logits = hidden @ lm_head.weight[ids].T.to(hidden.dtype)
    if getattr(lm_head, "bias", None) is not None:
        logits = logits + lm_head.bias[ids].to(hidden.dtype)
    return logits.float()


def to_model(batch: dict[str, torch.Tensor], model) -> dict[str, torch.Tensor]:
    """Move a processor batch to the model's device; pixel tensors take the model's dtype (bf16 on GPU)."""
    device, dtype = model.device, model.dtype
    return {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in batch.items()}
