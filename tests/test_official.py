"""The published EditHF layout: a tiny checkpoint of the same shape, made here, scored by hand."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edithf.models.official import FOLDERS, MLPRegressor, OfficialEditHF, official_prompt
from edithf.models.tiny import make_tiny_backbone

VISION = r".*encoder\.layer\.\d+\.(attention\.(q_proj|k_proj|v_proj|projection_layer)|mlp\.fc1|mlp\.fc2)"
LLM = r".*layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"


def _lora(module, pattern, seed):
    from peft import LoraConfig, get_peft_model

    wrapped = get_peft_model(module, LoraConfig(r=4, lora_alpha=8, target_modules=pattern))
    _bite(wrapped, seed)
    return wrapped


def _wrap_llm_lora(model, seed):
    """The language LoRA as InternVL's `wrap_llm_lora` makes it: peft on the causal LM (here a
    Qwen2ForCausalLM sharing the tiny backbone's text model and LM head, as the remote code's
    language_model is), its target list, task_type=CAUSAL_LM. Saved keys carry the causal LM's
    `model.` prefix and adapter_config.json says CAUSAL_LM, as in the published folders."""
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2ForCausalLM

    causal = Qwen2ForCausalLM(model.config.text_config)
    causal.model, causal.lm_head = model.model.language_model, model.lm_head
    targets = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
               "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"]
    wrapped = get_peft_model(causal, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, target_modules=targets,
                                                task_type="CAUSAL_LM"))
    _bite(wrapped, seed)
    return wrapped


def _bite(wrapped, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if "lora_B" in name:  # published adapters should not be all zero; make these bite
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))


def _by_hand(model, processor, src, ed, prompt, dim, head):
    """The published rule: expand each <image> to <img> + 4 context tokens + </img>, tokenise, h[-6]."""
    tile = "<img>" + "<IMG_CONTEXT>" * 4 + "</img>"
    ids = processor.tokenizer(official_prompt(prompt, dim, tile), return_tensors="pt")
    pixels = processor.image_processor([src, ed], crop_to_patches=False, return_tensors="pt")["pixel_values"]
    model.eval()  # LoRA dropout off, as at inference
    with torch.no_grad():
        h = model.model(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"],
                        pixel_values=pixels).last_hidden_state[0, -6]
        return (head(h).abs() * 100).item()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    rng = np.random.default_rng(1)
    src, ed = (Image.fromarray(rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)) for _ in range(2))
    expected = {}
    for i, (dim, folder) in enumerate(FOLDERS.items()):
        model, processor = make_tiny_backbone("internvl", seed=0)
        vision = _lora(model.model.vision_tower, VISION, seed=10 + i)
        llm = _wrap_llm_lora(model, seed=20 + i) if dim == "quality" else _lora(model.model.language_model, LLM, 20 + i)
        vision.save_pretrained(root / folder / "vision_lora")
        llm.save_pretrained(root / folder / "llm_lora")
        torch.manual_seed(i)
        head = MLPRegressor(model.config.text_config.hidden_size)
        torch.save(head.state_dict(), root / folder / "mlp_head.pth")  # the published format
        expected[dim] = _by_hand(model, processor, src, ed, "make the car blue", dim, head)
    return root, src, ed, expected


def test_checkpoint_carries_the_causal_lm_task_type(checkpoint):
    import json

    root = checkpoint[0]
    config = json.loads((root / "visual" / "llm_lora" / "adapter_config.json").read_text())
    assert config["task_type"] == "CAUSAL_LM"  # what made the native Qwen2Model fail to load it


def test_loader_reproduces_the_published_scoring_rule(checkpoint):
    root, src, ed, expected = checkpoint
    model = OfficialEditHF(str(root), backbone="tiny:internvl", device="cpu")
    scores = model.score([src, ed], [ed, src], ["make the car blue", "make the car blue"])
    assert scores.shape == (2, 3)
    np.testing.assert_allclose(scores[0], [expected[d] for d in model.dimensions], rtol=1e-4, atol=1e-4)
    assert len(set(np.round(scores[0], 4))) == 3  # three adapters, three heads: three numbers


def test_official_evaluator_and_bad_checkpoints(checkpoint, tmp_path):
    from edithf.evaluators.official_scorer import OfficialEditHFEvaluator

    root, src, ed, expected = checkpoint
    ev = OfficialEditHFEvaluator(str(root), backbone="tiny:internvl")
    row = ev.score_one(src, ed, "make the car blue")
    assert row["quality"] == pytest.approx(expected["quality"], rel=1e-4)
    with pytest.raises(FileNotFoundError, match="visual"):
        OfficialEditHF(str(tmp_path), backbone="tiny:internvl")
    (tmp_path / "visual").mkdir()
    with pytest.raises(FileNotFoundError, match="vision_lora"):
        OfficialEditHF(str(tmp_path), backbone="tiny:internvl")


def _remote_layout_adapters(folder, model, seed, r=4, alpha=8):
    """Adapters named as the remote-code InternVL names its modules (fused attn.qkv, encoder.layers,
    language_model with a `model.` prefix), written with peft's config and safetensors. Returns
    {native module name: delta W} for the by-hand merge."""
    from peft import LoraConfig
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: 0.1 * torch.randn(*shape, generator=gen)  # noqa: E731
    vision, llm, deltas = {}, {}, {}
    vcfg, tcfg = model.config.vision_config, model.config.text_config
    for i in range(vcfg.num_hidden_layers):
        d = vcfg.hidden_size
        for remote, native, out_dim in (("attn.qkv", None, 3 * d), ("attn.proj", "attention.projection_layer", d),
                                        ("mlp.fc1", "mlp.fc1", vcfg.intermediate_size)):
            a, b = rand(r, d), rand(out_dim, r)
            vision[f"base_model.model.encoder.layers.{i}.{remote}.lora_A.weight"] = a
            vision[f"base_model.model.encoder.layers.{i}.{remote}.lora_B.weight"] = b
            if native is None:
                for name, block in zip(("q_proj", "k_proj", "v_proj"), b.chunk(3)):
                    deltas[f"vision_tower.encoder.layer.{i}.attention.{name}"] = block @ a
            else:
                deltas[f"vision_tower.encoder.layer.{i}.{native}"] = b @ a
    for i in range(tcfg.num_hidden_layers):
        a, b = rand(r, tcfg.hidden_size), rand(tcfg.hidden_size, r)  # q_proj: heads * head_dim = hidden
        llm[f"base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight"] = a
        llm[f"base_model.model.model.layers.{i}.self_attn.q_proj.lora_B.weight"] = b
        deltas[f"language_model.layers.{i}.self_attn.q_proj"] = b @ a
    for name, state, targets in (("vision_lora", vision, ["attn.qkv", "attn.proj", "mlp.fc1"]),
                                 ("llm_lora", llm, ["q_proj"])):
        (folder / name).mkdir(parents=True)
        LoraConfig(r=r, lora_alpha=alpha, target_modules=targets).save_pretrained(str(folder / name))
        save_file(state, str(folder / name / "adapter_model.safetensors"))
    return {k: v * (alpha / r) for k, v in deltas.items()}


def test_remote_code_adapters_are_converted_exactly(tmp_path):
    rng = np.random.default_rng(3)
    src, ed = (Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(2))
    model, processor = make_tiny_backbone("internvl", seed=0)
    deltas = _remote_layout_adapters(tmp_path / "visual", model, seed=5)
    torch.manual_seed(0)
    head = MLPRegressor(model.config.text_config.hidden_size)
    torch.save(head.state_dict(), tmp_path / "visual" / "mlp_head.pth")
    modules = dict(model.model.named_modules())
    with torch.no_grad():  # merge W + (alpha / r) B A by hand into the native modules
        for name, delta in deltas.items():
            modules[name].weight += delta
    expected = _by_hand(model, processor, src, ed, "add a moon", "quality", head)
    loaded = OfficialEditHF(str(tmp_path), backbone="tiny:internvl", device="cpu")
    assert loaded.dimensions == ["quality"]
    assert loaded.score([src], [ed], ["add a moon"])[0, 0] == pytest.approx(expected, rel=1e-4)
