"""Tiny random backbones: real transformers classes built in memory, deterministic from a seed."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edithf.models.backbones import level_token_ids
from edithf.models.families import parse_tiny
from edithf.models.tiny import SIZES, make_tiny_backbone

FAMILIES = ["qwen2_vl", "internvl"]


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (60, 60, 3), dtype=np.uint8)) for i in range(n)]


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_backbone_generates_and_is_deterministic(family):
    model, processor = make_tiny_backbone(family, seed=3)
    again, _ = make_tiny_backbone(family, seed=3)
    other, _ = make_tiny_backbone(family, seed=4)
    first = next(iter(model.state_dict()))
    for (name, a), b, c in zip(model.state_dict().items(), again.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b), name
    assert any(not torch.equal(a, c) for a, c in zip(model.state_dict().values(), other.state_dict().values())), first

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what is the image?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    batch = processor(text=[text], images=_images(1), return_tensors="pt", **(
        {"crop_to_patches": False} if family == "internvl" else {}))
    image_tokens = (batch["input_ids"] == model.config.image_token_id).sum().item()
    assert image_tokens == 4  # the documented size: 4 tokens per square image
    out = model.generate(**batch, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == batch["input_ids"].shape[1] + 3


@pytest.mark.parametrize("family", FAMILIES)
def test_level_words_are_single_distinct_tokens(family):
    _, processor = make_tiny_backbone(family)
    tok = processor.tokenizer
    ids = level_token_ids(tok, ["bad", "poor", "fair", "good", "excellent"])
    assert len(set(ids)) == 5
    assert all(len(tok.encode(" " + w, add_special_tokens=False)) == 1 for w in ["bad", "excellent"])
    assert tok.decode(tok.encode("any text, ünïcode")) == "any text, ünïcode"  # byte-level round trip


def test_tiny_ids():
    assert parse_tiny("tiny:internvl") == ("internvl", "small")
    assert parse_tiny("OpenGVLab/InternVL3_5-1B-HF") is None
    with pytest.raises(ValueError, match="tiny:qwen2_vl"):
        parse_tiny("tiny:llava")
    from edithf.models.families import TINY_SIZES

    assert tuple(SIZES) == TINY_SIZES  # every size the parser accepts can be built


def test_families_tiny_backbones_form_no_import_cycle():
    """families <- tiny <- backbones, with no import back (not even inside a function)."""
    import ast
    from pathlib import Path

    import edithf.models

    def imported(name):
        tree = ast.parse((Path(edithf.models.__file__).parent / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}

    assert not {m for m in imported("families") if m.startswith("edithf.models")}
    assert "edithf.models.backbones" not in imported("tiny")
