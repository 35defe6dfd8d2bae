"""The `demo` size of the tiny Qwen2-VL backbone (tiny:qwen2_vl@demo): more pixels and tokens per
image, whole-word prompt tokens, and a first text layer that compares the two images place by place."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edithf.models.families import chat_texts, parse_tiny
from edithf.models.tiny import make_tiny_backbone


def _pair(seed=0, side=192):
    rng = np.random.default_rng(seed)
    source = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    edited = source.copy()
    edited[:96, :96] = 255 - edited[:96, :96]  # change the top-left quarter only
    return Image.fromarray(source), Image.fromarray(edited)


def _layer0_attention(model, batch):
    model.config._attn_implementation = "eager"
    model.config.get_text_config()._attn_implementation = "eager"
    with torch.no_grad():
        out = model.model(**batch, output_attentions=True, output_hidden_states=True)
    return out


@pytest.fixture(scope="module")
def demo_model():
    model, processor = make_tiny_backbone("qwen2_vl", seed=0, size="demo")
    source, edited = _pair()
    batch = processor(text=chat_texts(processor, ["Make the top left darker."]), images=[source, edited],
                      return_tensors="pt")
    return model, processor, batch


def test_demo_ids_and_sizes(demo_model):
    model, processor, batch = demo_model
    assert parse_tiny("tiny:qwen2_vl@demo") == ("qwen2_vl", "demo")
    assert parse_tiny("tiny:qwen2_vl").size == "small"
    with pytest.raises(ValueError, match="size"):
        parse_tiny("tiny:qwen2_vl@huge")
    image = batch["input_ids"][0] == model.config.image_token_id
    assert image.sum() == 2 * 36  # 168 px / 14 / 2 = 6 x 6 tokens per image
    tok = processor.tokenizer
    assert len(tok.encode(" Change the colour of the orange area at the left", add_special_tokens=False)) == 10


def test_edited_tokens_attend_to_the_same_place_of_the_source(demo_model):
    model, _, batch = demo_model
    out = _layer0_attention(model, batch)
    positions = (batch["input_ids"][0] == model.config.image_token_id).nonzero().squeeze(1)
    source, edited = positions[:36], positions[36:]
    head0 = out.attentions[0][0, 0]  # (T, T)
    assert head0[edited][:, source].diagonal().min() > 0.9  # edited (r, c) -> source (r, c)
    # ... and subtracts it: after layer 0's attention the unchanged places mostly cancel, the
    # changed quarter (rows 0-2, columns 0-2 of the 6 x 6 grid) does not
    layer0 = model.model.language_model.layers[0]
    h = out.hidden_states[0][0]  # (T, H) input embeddings
    attn_out = layer0.self_attn.o_proj.weight  # the comparison writes only dims [0, 48)
    assert torch.count_nonzero(attn_out[48:]) == 0
    residual = h + _attention_output(model, batch)
    change = residual[edited, :48].norm(dim=-1).reshape(6, 6)
    before = h[edited, :48].norm(dim=-1).reshape(6, 6)
    unchanged = torch.ones(6, 6, dtype=torch.bool)
    unchanged[:3, :3] = False
    assert change[unchanged].mean() < 0.6 * before[unchanged].mean()  # cancelled, up to each token's RMS norm
    assert change[:3, :3].min() > 2 * change[unchanged].max()


def _attention_output(model, batch):
    """Layer 0's attention output (T, H) for the single prompt of `batch` (a forward hook)."""
    captured = {}
    attn = model.model.language_model.layers[0].self_attn
    handle = attn.register_forward_hook(lambda mod, args, out: captured.update(out=out[0]))
    try:
        with torch.no_grad():
            model.model(**batch)
    finally:
        handle.remove()
    return captured["out"][0]
