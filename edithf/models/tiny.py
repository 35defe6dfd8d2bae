"""Tiny random VLM backbones built in memory: real transformers classes, no files, no hub.

`make_tiny_backbone("qwen2_vl" | "internvl", seed)` -> (model, processor). The backbone ids
`tiny:qwen2_vl` and `tiny:internvl` resolve here wherever a hub id is accepted.

Sizes (chosen so the demo benchmark is learnable in a few CPU minutes, yet a forward pass of a
batch of 8 takes well under a second on 2 cores):

| family   | text                                   | vision                                 | image          | tokens/image |
|----------|----------------------------------------|----------------------------------------|----------------|--------------|
| qwen2_vl | hidden 96, 3 layers, 4 heads (2 kv), ffn 256 | depth 2, embed 64, patch 14, merge 2 | ~56x56 area (aspect kept) | 4 (square) to ~6 |
| internvl | hidden 96, 3 layers, 4 heads (2 kv), ffn 256 | 2 layers, hidden 64, patch 16        | 64x64, 1 tile  | 4            |

About 0.5 M parameters each. The tokenizer is byte-level BPE (Qwen2Tokenizer) over the 256 byte
symbols plus merges for a few words (the level words become single tokens, as in real
vocabularies), with the family's special tokens and a ChatML chat template.
"""
from __future__ import annotations

import torch

FAMILIES = ("qwen2_vl", "internvl")
TEXT = dict(hidden_size=96, intermediate_size=256, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=False)
# Whole words the tiny vocabulary knows (with the leading space byte-level BPE gives them).
WORDS = ("bad", "poor", "fair", "good", "excellent", "quality", "alignment", "preservation",
         "level", "image", "edited", "source", "the", "is", "of")
QWEN_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                 "<|image_pad|>", "<|video_pad|>")
INTERNVL_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>")
QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
INTERNVL_IMAGE = "<IMG_CONTEXT>\n"

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}IMAGE_PLACEHOLDER"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_chat_template(image_placeholder: str) -> str:
    return CHATML.replace("IMAGE_PLACEHOLDER", image_placeholder)


def _byte_vocab_and_merges(words=WORDS):
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())  # 256 printable stand-ins for the bytes
    vocab = {s: i for i, s in enumerate(symbols)}
    merges: list[tuple[str, str]] = []
    for word in words:  # merge "Ġ"+"g" -> "Ġg", "Ġg"+"o" -> "Ġgo", ... so " good" is one token
        pieces = ["Ġ", *word]
        current = pieces[0]
        for ch in pieces[1:]:
            merged = current + ch
            if merged not in vocab:
                vocab[merged] = len(vocab)
                merges.append((current, ch))
            current = merged
    return vocab, merges


def make_tiny_tokenizer(family: str):
    from transformers import Qwen2Tokenizer

    vocab, merges = _byte_vocab_and_merges()
    specials = QWEN_SPECIALS if family == "qwen2_vl" else INTERNVL_SPECIALS
    for tok in specials:
        vocab[tok] = len(vocab)
    extra = {}
    if family == "internvl":  # the named tokens InternVLProcessor reads from the tokenizer
        extra = {"extra_special_tokens": {"start_image_token": "<img>", "end_image_token": "</img>",
                                          "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}}
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>",
                         pad_token="<|endoftext|>", **extra)
    tok.add_special_tokens({"additional_special_tokens": list(specials[1:])})
    tok.padding_side = "left"
    return tok


def _family_check(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown tiny backbone family {family!r}; use one of {FAMILIES} (tiny:qwen2_vl, tiny:internvl)")


def make_tiny_processor(family: str):
    """The family's processor, built in memory with its PIL image processor and no video slot."""
    from edithf.models.backbones import processor_class

    _family_check(family)
    tok = make_tiny_tokenizer(family)
    cls = processor_class(family)
    if family == "qwen2_vl":
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        side = 56 * 56  # about 56x56 px (smart resize keeps the aspect): a square image -> 2x2 = 4 tokens
        image_proc = Qwen2VLImageProcessorPil(size={"shortest_edge": side, "longest_edge": side})
        return cls(image_processor=image_proc, tokenizer=tok, chat_template=tiny_chat_template(QWEN_IMAGE))
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    image_proc = GotOcr2ImageProcessorPil(size={"height": 64, "width": 64}, crop_to_patches=False,
                                          image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    # 64 px / patch 16 = 4x4 patches, pixel-shuffle 0.5 -> 2x2 = 4 tokens per image
    return cls(image_processor=image_proc, tokenizer=tok, image_seq_length=4,
               chat_template=tiny_chat_template(INTERNVL_IMAGE))


def tiny_config(family: str, tokenizer):
    """A random-init config of the real architecture at tiny size."""
    _family_check(family)
    ids = tokenizer.convert_tokens_to_ids
    text = dict(TEXT, vocab_size=len(tokenizer), bos_token_id=None, eos_token_id=ids("<|im_end|>"),
                pad_token_id=ids("<|endoftext|>"))
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig

        head_dim = TEXT["hidden_size"] // TEXT["num_attention_heads"]  # 24 -> mrope sums to 12
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 4, 4]}
        assert sum(text["rope_parameters"]["mrope_section"]) == head_dim // 2
        vision = dict(depth=2, embed_dim=64, hidden_size=TEXT["hidden_size"], num_heads=4, mlp_ratio=2,
                      patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
        return Qwen2VLConfig(text_config=text, vision_config=vision, image_token_id=ids("<|image_pad|>"),
                             video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
                             vision_end_token_id=ids("<|vision_end|>"), tie_word_embeddings=False)
    from transformers import InternVLConfig

    text["model_type"] = "qwen2"
    vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  image_size=[64, 64], patch_size=[16, 16])
    return InternVLConfig(text_config=text, vision_config=vision, image_token_id=ids("<IMG_CONTEXT>"),
                          image_seq_length=4, downsample_ratio=0.5, tie_word_embeddings=False)


def make_tiny_backbone(family: str = "qwen2_vl", seed: int = 0):
    """(model, processor) of a tiny random VLM; the same seed gives the same weights."""
    from transformers import InternVLForConditionalGeneration, Qwen2VLForConditionalGeneration

    processor = make_tiny_processor(family)
    config = tiny_config(family, processor.tokenizer)
    cls = Qwen2VLForConditionalGeneration if family == "qwen2_vl" else InternVLForConditionalGeneration
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    return model.eval(), processor


def parse_tiny_id(backbone: str) -> str | None:
    """'tiny:internvl' -> 'internvl'; anything else -> None."""
    if not backbone.startswith("tiny:"):
        return None
    family = backbone.split(":", 1)[1]
    _family_check(family)
    return family
