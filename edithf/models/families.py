"""What differs per backbone family, in one place: the processor class (image-only), the chat
layout of an EditHF prompt, and the family adapter (processor settings, model inputs).

Families: `internvl` (transformers-native InternVL / InternVL3.5 "-HF" checkpoints), `qwen2_vl`,
`qwen2_5_vl`. Imports no other edithf.models module at import time, so edithf.models.tiny and
edithf.models.backbones both build on it without a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

FAMILIES = ("internvl", "qwen2_vl", "qwen2_5_vl")
# the tiny random backbones edithf.models.tiny builds: `tiny:<family>` or `tiny:<family>@<size>`
TINY_FAMILIES = ("qwen2_vl", "internvl")
TINY_SIZES = ("small", "demo")


class TinyId(NamedTuple):
    family: str
    size: str


def parse_tiny(backbone: str) -> TinyId | None:
    """The one parser of tiny backbone names: 'tiny:internvl' -> ('internvl', 'small'),
    'tiny:qwen2_vl@demo' -> ('qwen2_vl', 'demo'); a hub id or folder -> None; a bad tiny name
    -> ValueError saying what exists."""
    if not str(backbone).startswith("tiny:"):
        return None
    family, _, size = str(backbone).split(":", 1)[1].partition("@")
    return tiny_id(family, size or "small")


def tiny_id(family: str, size: str = "small") -> TinyId:
    """A checked (family, size) of a tiny backbone; ValueError naming what exists."""
    if family not in TINY_FAMILIES:
        raise ValueError(f"unknown tiny backbone family {family!r}; use one of {TINY_FAMILIES} "
                         "(tiny:qwen2_vl, tiny:internvl)")
    if size not in TINY_SIZES:
        raise ValueError(f"unknown tiny backbone size {size!r}; use one of {TINY_SIZES} (e.g. tiny:qwen2_vl@demo)")
    return TinyId(family, size)


@dataclass(frozen=True)
class FamilyAdapter:
    family: str
    model_keys: tuple[str, ...]  # processor outputs the model's forward takes

    def processor_kwargs(self, cfg) -> dict:
        """Image settings for the processor call (tiny processors keep their fixed size)."""
        tiny = parse_tiny(cfg.backbone) is not None
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
    (docs/offline.md). Images behave exactly as in the original class."""
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


def chat_texts(processor, user_texts: list[str]) -> list[str]:
    """ChatML prompt per sample: [user text][source image][edited image], then the assistant turn.

    Why this order: the user text (instruction + rubric) and the source image are the same for
    every edit of a group, so they come first and form a prefix computed once per group
    (`encode_shared`, `shared_hidden_at`); only the edited image and the answer follow."""
    texts = []
    for user in user_texts:
        content = [{"type": "text", "text": user + "\nSource image: "}, {"type": "image"},
                   {"type": "text", "text": "\nEdited image: "}, {"type": "image"}]
        messages = [{"role": "user", "content": content}]
        texts.append(processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    return texts


class PrefixSplitError(ValueError):
    """The prompt cannot be cut into a shared prefix and a per-edit suffix with this tokenizer."""


def split_at_edited_image(processor, text: str) -> tuple[str, str]:
    """A two-image chat text cut just before the edited image's placeholder: (shared prefix,
    per-edit suffix). The cut falls next to a special token, so tokenising the two parts gives
    exactly the tokens of the whole; checked, since a tokenizer whose special tokens strip the
    whitespace next to them would break that (and with it the equality with one-by-one scores)."""
    token = processor.image_token
    first = text.find(token)
    second = text.find(token, first + len(token)) if first >= 0 else -1
    if second < 0:
        raise ValueError(f"the chat text holds fewer than two {token!r} placeholders: {text[:200]!r}")
    prefix, suffix = text[:second], text[second:]
    encode = lambda t: processor.tokenizer.encode(t, add_special_tokens=False)  # noqa: E731
    if encode(prefix) + encode(suffix) != encode(text):
        raise PrefixSplitError(f"this tokenizer tokenises the prompt differently when cut before the edited "
                               f"image ({token!r}): group-shared scoring cannot give the one-by-one scores")
    return prefix, suffix
