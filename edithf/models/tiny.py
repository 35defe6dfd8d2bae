"""Tiny random VLM backbones built in memory: real transformers classes, no files, no hub.

`make_tiny_backbone("qwen2_vl" | "internvl", seed, size="small" | "demo")` -> (model, processor).
The backbone ids `tiny:qwen2_vl` and `tiny:internvl` (size "small") and `tiny:qwen2_vl@demo`,
`tiny:internvl@demo` resolve here wherever a hub id is accepted (`parse_tiny`, from
edithf.models.families, reads them).

| size  | text (both families)                          | qwen2_vl vision (patch 14, merge 2)  | internvl vision (patch 16) | tokens/image |
|-------|-----------------------------------------------|--------------------------------------|----------------------------|--------------|
| small | hidden 96, 3 layers, 4 heads (2 kv), ffn 256  | depth 2, embed 64, ~56x56 px         | 2 layers, 64x64, 1 tile    | 4            |
| demo  | same, M-RoPE theta 10                         | same, ~168x168 px                    | same, 192x192, 1 tile      | 36           |

`small` (tests) keeps a forward pass of a batch of 8 well under a second on 2 cores; about 0.75 M
parameters. `demo` is the size the demo benchmark trains (configs/train_demo.yaml): enough pixels
for JPEG blocks, blur and small edited regions to show, whole-word tokens for common English
prompt words (a prompt is ~100 tokens instead of ~300 bytes), and, for Qwen2-VL, a first text
layer whose attention subtracts from each edited-image token the source-image token at the same
place (`add_comparison_head`): random weights cannot compare the two images, and without that a
few CPU minutes of LoRA training do not learn the demo (docs/training_results.md).

The tokenizer is byte-level BPE (Qwen2Tokenizer) over the 256 byte symbols plus merges for a few
words (the level words become single tokens, as in real vocabularies), with the family's special
tokens and a ChatML chat template.
"""
from __future__ import annotations

import torch

from edithf.models.families import TINY_FAMILIES as FAMILIES
from edithf.models.families import chat_texts, processor_class, tiny_id

SIZES = {
    # tests: 4 tokens per image, fast
    "small": dict(hidden=96, layers=3, heads=4, kv_heads=2, ffn=256, vision_depth=2, vision_dim=64,
                  qwen_side=56, internvl_side=64, init_std=0.02, english=False, rope_theta=10000.0,
                  compare_head=0),
    # the demo benchmark: enough pixels for JPEG blocks, blur and small regions to show
    "demo": dict(hidden=96, layers=3, heads=4, kv_heads=2, ffn=256, vision_depth=2, vision_dim=64,
                 qwen_side=168, internvl_side=192, init_std=0.02, english=True, rope_theta=10.0,
                 compare_head=2),
}
# Whole words the tiny vocabulary knows (with the leading space byte-level BPE gives them).
WORDS = ("bad", "poor", "fair", "good", "excellent", "quality", "alignment", "preservation",
         "level", "image", "edited", "source", "the", "is", "of")
# Common English words of editing prompts and of the EditHF prompt template, for the `demo` size:
# whole-word tokens (as real vocabularies have) keep a prompt at tens of tokens instead of hundreds
# of bytes, so the image tokens are not drowned in text.
ENGLISH = ("a", "an", "and", "are", "at", "to", "of", "on", "in", "into", "from", "with", "it", "this", "that",
           "do", "does", "no", "not", "less", "more", "what", "each", "one", "few", "below", "exactly", "asks",
           "Rate", "Editing", "Quality", "Alignment", "Preservation", "instruction", "aspect", "words",
           "sharp", "clean", "free", "artefacts", "distortions", "noise", "parts", "mention", "kept",
           "unchanged", "photo", "picture", "object", "area", "colour", "colours", "color", "background",
           "Add", "Remove", "Change", "Make", "Give", "Turn", "Rotate", "Replace", "Put", "whole", "tint",
           "brighter", "darker", "blurry", "look", "like", "painting", "sketch", "pencil", "oil", "poster",
           "flat", "degrees", "clockwise", "counter", "upside", "down", "left", "right", "top", "bottom",
           "centre", "center", "circle", "square", "red", "green", "blue", "yellow", "orange", "purple",
           "pink", "cyan", "black", "white", "grey", "gray", "brown")
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


def make_tiny_tokenizer(family: str, english: bool = False):
    from transformers import Qwen2Tokenizer

    extra_words = tuple(w for w in ENGLISH if w not in WORDS) if english else ()
    vocab, merges = _byte_vocab_and_merges(WORDS + extra_words)
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
    tiny_id(family)


def size_spec(size: str) -> dict:
    return SIZES[tiny_id(FAMILIES[0], size).size]


def make_tiny_processor(family: str, size: str = "small"):
    """The family's processor, built in memory with its PIL image processor and no video slot."""
    _family_check(family)
    spec = size_spec(size)
    tok = make_tiny_tokenizer(family, spec["english"])
    cls = processor_class(family)
    if family == "qwen2_vl":
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        # about side x side px (smart resize keeps the aspect), patch 14, 2x2 merge:
        # a square image -> (side / 28)^2 tokens (56 -> 4, 112 -> 16)
        area = spec["qwen_side"] ** 2
        image_proc = Qwen2VLImageProcessorPil(size={"shortest_edge": area, "longest_edge": area})
        return cls(image_processor=image_proc, tokenizer=tok, chat_template=tiny_chat_template(QWEN_IMAGE))
    from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import GotOcr2ImageProcessorPil

    side = spec["internvl_side"]
    image_proc = GotOcr2ImageProcessorPil(size={"height": side, "width": side}, crop_to_patches=False,
                                          image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    return cls(image_processor=image_proc, tokenizer=tok, image_seq_length=internvl_tokens(side),
               chat_template=tiny_chat_template(INTERNVL_IMAGE))


def internvl_tokens(side: int) -> int:
    """side px / patch 16 = n x n patches, pixel-shuffle 0.5 -> (n / 2)^2 tokens (64 px -> 4)."""
    return (side // 16 // 2) ** 2


def tiny_config(family: str, tokenizer, size: str = "small"):
    """A random-init config of the real architecture at tiny size."""
    _family_check(family)
    spec = size_spec(size)
    ids = tokenizer.convert_tokens_to_ids
    text = dict(hidden_size=spec["hidden"], intermediate_size=spec["ffn"], num_hidden_layers=spec["layers"],
                num_attention_heads=spec["heads"], num_key_value_heads=spec["kv_heads"],
                max_position_embeddings=2048, tie_word_embeddings=False, vocab_size=len(tokenizer),
                initializer_range=spec["init_std"],
                bos_token_id=None, eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"))
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig

        half = spec["hidden"] // spec["heads"] // 2  # mrope sections (t, h, w) must sum to head_dim / 2
        section = [half - 2 * (half // 3), half // 3, half // 3]
        text["rope_parameters"] = {"rope_type": "default", "rope_theta": spec["rope_theta"],
                                   "mrope_section": section}
        vision = dict(depth=spec["vision_depth"], embed_dim=spec["vision_dim"], hidden_size=spec["hidden"],
                      num_heads=4, mlp_ratio=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                      initializer_range=spec["init_std"])
        return Qwen2VLConfig(initializer_range=spec["init_std"], text_config=text, vision_config=vision, image_token_id=ids("<|image_pad|>"),
                             video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
                             vision_end_token_id=ids("<|vision_end|>"), tie_word_embeddings=False)
    from transformers import InternVLConfig

    text["model_type"] = "qwen2"
    side = spec["internvl_side"]
    vision = dict(hidden_size=spec["vision_dim"], intermediate_size=2 * spec["vision_dim"],
                  num_hidden_layers=spec["vision_depth"], num_attention_heads=4,
                  image_size=[side, side], patch_size=[16, 16], initializer_range=spec["init_std"])
    return InternVLConfig(text_config=text, vision_config=vision, image_token_id=ids("<IMG_CONTEXT>"),
                          image_seq_length=internvl_tokens(side), downsample_ratio=0.5, tie_word_embeddings=False)


def make_tiny_backbone(family: str = "qwen2_vl", seed: int = 0, size: str = "small"):
    """(model, processor) of a tiny random VLM; the same seed gives the same weights."""
    from transformers import InternVLForConditionalGeneration, Qwen2VLForConditionalGeneration

    processor = make_tiny_processor(family, size)
    config = tiny_config(family, processor.tokenizer, size)
    cls = Qwen2VLForConditionalGeneration if family == "qwen2_vl" else InternVLForConditionalGeneration
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    if family == "qwen2_vl" and size_spec(size)["compare_head"]:
        add_comparison_head(model, processor, size_spec(size)["compare_head"])
    return model.eval(), processor


@torch.no_grad()
def add_comparison_head(model, processor, groups: int, sharpness: float = 40.0) -> None:
    """Make the first text layer's attention subtract, at each edited-image token, the
    source-image token at the same place (Qwen2-VL), on the first `groups` x head_dim hidden dims.

    Why: comparing the two images patch by patch is what a pretrained MLLM brings to the task and
    what random weights lack; without it the score head only sees sums of the two images and a
    few CPU minutes of LoRA training do not find the difference (docs/training_results.md).
    How: in each of the first `groups` KV groups, the first query head and the key are
    position-only (zero weights, constant biases u, v), so the score is u . rot(dp * theta) v
    under M-RoPE, peaked at the offset dp = -D (the same in t, h, w) between the two images of
    the EditHF prompt; the value reads hidden dims [g*hd, (g+1)*hd) and the output subtracts them.
    The other heads of layer 0 write nothing, and the merger writes only those dims, so an
    edited token leaves layer 0's attention holding e - s. D is measured on two square images:
    images of other aspect ratios (another token grid) still run, but are compared off-place.
    M-RoPE theta 10 (the `demo` size) makes neighbouring rows and columns distinguishable.
    """
    attn = model.model.language_model.layers[0].self_attn
    text = model.config.get_text_config()
    hd = text.hidden_size // text.num_attention_heads
    per_group = text.num_attention_heads // text.num_key_value_heads
    theta = model.model.language_model.rotary_emb.inv_freq  # (hd / 2,)
    batch = _two_image_batch(processor)
    shift = _image_offset(model, batch)  # D: position offset of the edited image
    scale = _image_token_rms(model, batch)
    u = torch.cat([torch.full((hd // 2,), sharpness), torch.zeros(hd // 2)])
    v = torch.cat([sharpness * torch.cos(shift * theta), sharpness * torch.sin(shift * theta)])
    attn.o_proj.weight.zero_()
    for g in range(groups):
        q, kv = slice(g * per_group * hd, (g * per_group + 1) * hd), slice(g * hd, (g + 1) * hd)
        attn.q_proj.weight[q] = 0
        attn.q_proj.bias[q] = u
        attn.k_proj.weight[kv] = 0
        attn.k_proj.bias[kv] = v
        attn.v_proj.weight[kv] = torch.eye(text.hidden_size)[kv]
        attn.v_proj.bias[kv] = 0
        attn.o_proj.weight[kv, q] = -scale * torch.eye(hd)
    out = model.model.visual.merger.mlp[2]
    out.weight[groups * hd:] = 0
    out.bias[groups * hd:] = 0


def _two_image_batch(processor):
    """One EditHF-layout prompt with two square noise images of the processor's size."""
    import numpy as np
    from PIL import Image

    side = int(round(processor.image_processor.size["longest_edge"] ** 0.5))
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(2)]
    return processor(text=chat_texts(processor, ["x"]), images=images, return_tensors="pt")


def _image_offset(model, batch) -> int:
    """Position offset (the same in t, h and w) of the second image of the EditHF prompt after the first."""
    pos, _ = model.model.get_rope_index(batch["input_ids"], batch["mm_token_type_ids"], batch["image_grid_thw"],
                                        attention_mask=batch["attention_mask"])  # (3, 1, T)
    img = (batch["input_ids"][0] == model.config.image_token_id).nonzero().squeeze(1)
    half = len(img) // 2
    offset = (pos[:, 0, img[half:]] - pos[:, 0, img[:half]]).unique()
    if len(offset) != 1:
        raise ValueError(f"the two images of the prompt are not at one offset in t, h and w: {offset.tolist()}")
    return int(offset)


def _image_token_rms(model, batch) -> float:
    """Typical size of the merger's outputs, so head 0 subtracts the source at the edited token's scale."""
    out = model.model.get_image_features(batch["pixel_values"], batch["image_grid_thw"])
    tokens = torch.cat(list(getattr(out, "pooler_output", out)))  # (N, hidden)
    return float(tokens.pow(2).mean().sqrt())
