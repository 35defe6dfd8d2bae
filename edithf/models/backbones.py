"""Backbones: loading (hub id, folder or tiny), LoRA, encoding prompts + images, batched and
group-shared forward passes. What differs per family (processor class, chat layout, processor
settings) is in edithf.models.families, which also parses `tiny:` names (`parse_tiny`).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from edithf.models.families import adapter_for, chat_texts, parse_tiny, processor_class, split_at_edited_image
from edithf.models.tiny import make_tiny_backbone


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
    tiny = parse_tiny(backbone)
    if tiny:
        return tiny.family
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
    tiny = parse_tiny(cfg.backbone)
    if tiny:
        model, processor = make_tiny_backbone(tiny.family, cfg.tiny_seed, tiny.size)
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

    from edithf.models.lora import quiet_peft

    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.lora_targets, bias="none")
    _check_targets(model, cfg.lora_targets)
    with quiet_peft():
        return get_peft_model(model, lora)


def _check_targets(model, targets) -> None:
    """Each item of the targets matches a module, and together they reach linear layers of both
    the vision side and the language model (LoRA on one side only is not the paper's recipe)."""
    from edithf.models.lora import check_lora_targets, matches_targets

    check_lora_targets(model, targets, f"backbone ({type(model).__name__})")
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and matches_targets(n, targets)]
    vision = [n for n in names if "language_model" not in n]
    language = [n for n in names if "language_model" in n]
    if not vision or not language:
        raise ValueError(f"lora_targets {targets!r} matched {len(vision)} vision and {len(language)} language "
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


def model_inputs(adapter, out) -> dict[str, torch.Tensor]:
    """The processor outputs this family's model takes (`adapter.model_keys`)."""
    return {k: out[k] for k in adapter.model_keys if k in out}


def encode_images_and_text(processor, adapter, cfg, sources, edited, texts) -> dict[str, torch.Tensor]:
    """Processor output (left-padded) for prompts that hold two images each."""
    images = [img for pair in zip(sources, edited) for img in pair]  # s0, e0, s1, e1, ...
    out = processor(text=texts, images=images, padding=True, return_tensors="pt",
                    **adapter.processor_kwargs(cfg))
    return model_inputs(adapter, out)


def encode_with_answer(processor, adapter, cfg, sources, edited, user_texts, prefixes) -> dict[str, torch.Tensor]:
    """Prompt + teacher-forced answer segments; `read_index` (B, D) = last token of each segment.

    Left padding puts every prompt's end at the same column, so the segments (tokenised on
    their own, "\\n" between them) are appended as one block and land at the same positions in
    every row.
    """
    batch = encode_images_and_text(processor, adapter, cfg, sources, edited, chat_texts(processor, user_texts))
    return append_answer(batch, processor.tokenizer, prefixes)


def append_answer(batch: dict[str, torch.Tensor], tok, prefixes) -> dict[str, torch.Tensor]:
    """Append the teacher-forced answer segments to a left-padded batch; add `read_index`."""
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


def encode_prefix(processor, adapter, cfg, source, user_text: str) -> tuple[dict[str, torch.Tensor], str]:
    """The shared prefix of a group (user text + source image) as a batch of one row, and the
    per-edit rest of the chat text, for `encode_suffix`."""
    prefix_text, suffix_text = split_at_edited_image(processor, chat_texts(processor, [user_text])[0])
    out = processor(text=[prefix_text], images=[source], return_tensors="pt", **adapter.processor_kwargs(cfg))
    return model_inputs(adapter, out), suffix_text


def encode_suffix(processor, adapter, cfg, edited: list, suffix_text: str, prefixes) -> dict[str, torch.Tensor]:
    """One left-padded row per edited image + the answer segments; `read_index` counts from the
    suffix's first column."""
    out = processor(text=[suffix_text] * len(edited), images=list(edited), padding=True, return_tensors="pt",
                    **adapter.processor_kwargs(cfg))
    return append_answer(model_inputs(adapter, out), processor.tokenizer, prefixes)


def prefix_cache(model, prefix: dict[str, torch.Tensor]):
    """The key/value cache (transformers DynamicCache) of the shared prefix, batch 1; the source
    image's vision features are computed here, once."""
    return model.model(**prefix, use_cache=True).cache


def shared_hidden_at(model, prefix: dict[str, torch.Tensor], cache, suffix: dict[str, torch.Tensor]) -> torch.Tensor:
    """Last-layer hidden states at the suffix's `read_index` (B, D) -> (B, D, H), each row
    continuing the shared prefix from a batch-expanded copy of its cache (the cache itself is
    left as it was, for the next batch). Positions are those of the whole unpadded sequence
    (`continued_positions`), so a row equals its one-by-one forward pass."""
    import copy

    suffix = dict(suffix)
    read_index = suffix.pop("read_index")
    n = suffix["input_ids"].shape[0]
    rows = copy.deepcopy(cache)
    rows.batch_repeat_interleave(n)
    mask = torch.cat([prefix["attention_mask"].expand(n, -1), suffix["attention_mask"]], dim=1)
    positions = continued_positions(model, prefix, suffix, mask)
    suffix["attention_mask"] = mask
    last = model.model(**suffix, position_ids=positions, cache=rows, use_cache=True).last_hidden_state
    return read_at(last, read_index)


def continued_positions(model, prefix, suffix, mask: torch.Tensor) -> torch.Tensor:
    """Position ids of the suffix tokens as if each row were one unpadded sequence. The suffix is
    left-padded after the prefix (padding in the middle), so the model's own default (counting
    from the cache length) would shift them. Qwen2-VL: M-RoPE (3, B, S) from `get_rope_index` over
    the whole sequence, which skips the padding; others: the running count of real tokens."""
    p = prefix["input_ids"].shape[1]
    if "image_grid_thw" not in suffix:
        return (mask.long().cumsum(-1) - 1).clamp(min=0)[:, p:]
    n = suffix["input_ids"].shape[0]
    full = {k: torch.cat([prefix[k].expand(n, -1), suffix[k]], dim=1) for k in ("input_ids", "mm_token_type_ids")}
    grids = torch.stack([torch.stack([prefix["image_grid_thw"][0], g]) for g in suffix["image_grid_thw"]]).flatten(0, 1)
    positions, _ = model.model.get_rope_index(full["input_ids"], full["mm_token_type_ids"], grids, attention_mask=mask)
    return positions[:, :, p:]


def hidden_at(model, read_index: torch.Tensor, **inputs) -> torch.Tensor:
    """Last-layer hidden states of a transformers VLM at `read_index` (B, D) -> (B, D, H). Runs the
    inner model (LoRA layers included) and skips the full-vocabulary LM head."""
    last = model.model(**inputs, use_cache=False).last_hidden_state  # (B, T, H)
    return read_at(last, read_index)


def read_at(last: torch.Tensor, read_index: torch.Tensor) -> torch.Tensor:
    """Hidden states (B, T, H) at the columns `read_index` (B, D) -> (B, D, H)."""
    return last.gather(1, read_index.unsqueeze(-1).expand(-1, -1, last.shape[-1]))


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
