"""EditHFModel: one pass scores three dimensions; LoRA starts as a no-op; save -> load is exact;
bad input gets clear errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edithf.models.edithf_config import EditHFConfig
from edithf.models.edithf_model import EditHFModel

FAMILIES = ["qwen2_vl", "internvl"]


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 255, (50 + 10 * i, 64, 3), dtype=np.uint8)) for i in range(6)]


@pytest.fixture(scope="module", params=FAMILIES)
def model(request):
    torch.manual_seed(0)
    return EditHFModel.from_config(EditHFConfig(backbone=f"tiny:{request.param}", lora_dropout=0.0)).eval()


PROMPTS = ["make the sky pink", "remove the dog", "add a hat to the man"]


def test_forward_shapes_and_three_different_dimensions(model, images):
    batch = model.prepare(images[:3], images[3:], PROMPTS)
    assert batch["read_index"].shape == (3, 3)
    out = model(**batch)
    assert out.scores.shape == (3, 3) and out.expected.shape == (3, 3)
    assert out.level_logits.shape == (3, 3, 5)
    assert ((out.scores >= 0) & (out.scores <= 1)).all()
    # the three dimensions are read at different positions: genuinely different numbers
    spread = out.scores.max(dim=1).values - out.scores.min(dim=1).values
    assert (spread > 1e-4).all(), out.scores
    assert (out.level_logits[:, 0] - out.level_logits[:, 1]).abs().max() > 1e-4
    # the read positions are the answer segments' last tokens, e.g. the ":" of "Quality level:"
    tok = model.processor.tokenizer
    last = batch["input_ids"].gather(1, batch["read_index"])
    assert all(tok.decode(t).endswith(":") for t in last.flatten().tolist())


def test_batch_rows_do_not_depend_on_each_other(model, images):
    alone = model.score(images[:1], images[3:4], PROMPTS[:1])
    together = model.score(images[:3], images[3:], PROMPTS)  # left padding, other rows longer
    np.testing.assert_allclose(alone[0], together[0], atol=1e-3)


def test_lora_starts_at_zero_and_changes_nothing(model, images):
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and all(torch.count_nonzero(p) == 0 for p in lora_b)
    batch = model.prepare(images[:2], images[3:5], PROMPTS[:2])
    with torch.no_grad():
        with_adapter = model(**batch).scores
        with model.backbone.disable_adapter():
            without = model(**batch).scores
    torch.testing.assert_close(with_adapter, without)


def test_parameter_groups_cover_vision_language_and_head(model):
    groups = model.parameter_groups()
    assert any("language_model" in n for n in groups["lora"])
    assert any(("visual" in n or "vision_tower" in n) for n in groups["lora"])
    assert groups["head"] and all(n.startswith("head.") for n in groups["head"])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(groups["lora"]) | set(groups["head"])  # the base stays frozen


def test_gradients_reach_lora_and_head(model, images):
    model.train()
    batch = model.prepare(images[:2], images[3:5], PROMPTS[:2])
    out = model(**batch)
    (out.scores.sum() + out.level_logits.logsumexp(-1).sum()).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad(set_to_none=True)
    model.eval()
    assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if "lora_B" in n)
    assert all(grads[n] is not None for n in model.parameter_groups()["head"])


def test_save_load_gives_identical_scores(model, images, tmp_path):
    model = EditHFModel.from_config(model.cfg).eval()  # its own copy: the weights get changed below
    with torch.no_grad():  # make the adapter non-trivial first
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.05 * torch.randn_like(p))
    before = model.score(images[:3], images[3:], PROMPTS)
    model.save_pretrained(tmp_path / "ckpt")
    names = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"edithf_config.json", "adapter", "head.safetensors", "tiny_backbone.safetensors"} <= names
    assert not list((tmp_path / "ckpt").rglob("*.bin")) and not list((tmp_path / "ckpt").rglob("*.pt*"))
    loaded = EditHFModel.from_pretrained(str(tmp_path / "ckpt")).eval()
    np.testing.assert_array_equal(before, loaded.score(images[:3], images[3:], PROMPTS))


def test_bad_input_errors(model, images):
    with pytest.raises(ValueError, match="same length"):
        model.prepare(images[:2], images[3:4], PROMPTS[:2])
    with pytest.raises(ValueError, match="empty instruction"):
        model.prepare(images[:1], images[3:4], ["   "])
    long = model.prepare(images[:1], images[3:4], ["paint it red " * 800])  # 10,400 characters
    short = model.prepare(images[:1], images[3:4], ["paint it red"])
    budget = model.cfg.max_instruction_tokens
    assert long["input_ids"].shape[1] - short["input_ids"].shape[1] <= budget


def test_missing_checkpoints_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a local folder nor a reachable hub repo"):
        EditHFModel.from_pretrained(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="has no edithf_config.json"):
        EditHFModel.from_pretrained(str(tmp_path))


def test_config_checks():
    with pytest.raises(ValueError, match="one entry per dimension"):
        EditHFConfig(rubrics=["only one"])
    with pytest.raises(ValueError, match="must match both"):
        EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl", lora_targets=r".*language_model.*q_proj"))


def test_each_lora_target_item_must_match_a_module():
    from edithf.config import ConfigError
    from edithf.models.edithf_config import DEFAULT_LORA_TARGETS
    from edithf.models.lora import regex_alternatives

    assert regex_alternatives(r"a|(b|c)\|d|[|x]|e") == ["a", r"(b|c)\|d", "[|x]", "e"]
    assert len(regex_alternatives(DEFAULT_LORA_TARGETS)) == 2  # the vision side | the language model
    typo = DEFAULT_LORA_TARGETS + r"|.*languag_model\..*\.q_proj"
    with pytest.raises(ConfigError, match=r"lora_targets \['\.\*languag_model.*match no module of the backbone"):
        EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl", lora_targets=typo))
    with pytest.raises(ConfigError, match=r"lora_targets \['q_projj'\] match no module of the backbone"):
        EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl", lora_targets=["q_proj", "qkv", "q_projj"]))
    model = EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl", lora_targets=["q_proj", "qkv"]))
    assert model.parameter_groups()["lora"]  # peft's list form: names and dotted suffixes


def _huge_png_header(path, side=20000):
    """A PNG whose header claims side x side pixels; only the header is read before refusing it."""
    import io
    import struct
    import zlib

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes of header data
    ihdr[4:12] = struct.pack(">II", side, side)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def test_evaluator_on_a_saved_checkpoint_and_awkward_images(tmp_path, images):
    from edithf.data.images import ImageLoadError
    from edithf.evaluators.registry import create_evaluator

    model = EditHFModel.from_config(EditHFConfig(backbone="tiny:qwen2_vl"))
    model.save_pretrained(tmp_path / "m")
    ev = create_evaluator(f"edithf:{tmp_path / 'm'}", device="cpu")
    gray = images[0].convert("L")
    rgba = images[1].convert("RGBA")
    deep = Image.fromarray((np.asarray(gray, dtype=np.uint16) * 257), mode="I;16")
    df = ev.score([gray, rgba, deep], [images[3]] * 3, ["brighten it", "x" * 10_000, "sharpen"], batch_size=2)
    assert len(df) == 3 and df[["quality", "alignment", "preservation"]].notna().all().all()
    assert {"level_quality", "level_alignment", "level_preservation"} <= set(df.columns)
    np.testing.assert_allclose(df.loc[0, ["quality", "alignment", "preservation"]].astype(float),
                               model.score([gray.convert("RGB")], [images[3]], ["brighten it"])[0], atol=1e-3)
    with pytest.raises(ImageLoadError, match="huge.png.*(too large|above the limit)"):
        ev.score([_huge_png_header(tmp_path / "huge.png")], [images[3]], ["x"])
    untrained = [create_evaluator("edithf:tiny:qwen2_vl", device="cpu").score_one(images[0], images[3], "x")
                 for _ in range(2)]
    assert untrained[0] == untrained[1]  # the untrained tiny scorer is deterministic
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ImageLoadError, match="corrupt.jpg"):
        ev.score([tmp_path / "corrupt.jpg"], [images[3]], ["x"])


def test_throughput_benchmark_real_size_code_path_at_toy_size():
    """benchmarks/scoring_throughput.py --size internvl-1b|8b builds from a config; the same path
    runs here at toy size (448 px tiles, 256 tokens per image, Qwen3 text of 2 layers)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "scoring_throughput.py"
    spec = importlib.util.spec_from_file_location("scoring_throughput", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = bench.build("internvl-mini", "cpu").eval()
    assert model.backbone.get_base_model().config.text_config.model_type == "qwen3"
    sources, edited, prompts = bench.inputs(1)
    batch = model.prepare(sources, edited, prompts)
    assert (batch["input_ids"] == model.backbone.get_base_model().config.image_token_id).sum() == 512
    assert model.score(sources, edited, prompts).shape == (1, 3)
    bench.generative(model, sources, edited, prompts, new_tokens=2)


@pytest.mark.parametrize("family", FAMILIES)
def test_backbone_from_a_folder_like_a_hub_checkpoint(family, images, tmp_path):
    """A backbone folder (save_pretrained of model + processor) loads through
    AutoModelForImageTextToText and the torchvision-free processor fallback, and scores exactly
    as the in-memory tiny model; its EditHF checkpoint reloads to identical scores."""
    from edithf.models.tiny import make_tiny_backbone

    base, processor = make_tiny_backbone(family)
    base.save_pretrained(tmp_path / "backbone")
    processor.save_pretrained(tmp_path / "backbone")
    cfg = EditHFConfig(backbone=str(tmp_path / "backbone"), image_size=64, max_pixels=56 * 56)
    from_folder = EditHFModel.from_config(cfg).eval()
    in_memory = EditHFModel.from_config(EditHFConfig(backbone=f"tiny:{family}")).eval()
    assert from_folder.family == family
    square = [im.resize((64, 64)) for im in images]
    expected = in_memory.score(square[:2], square[2:4], PROMPTS[:2])
    np.testing.assert_allclose(from_folder.score(square[:2], square[2:4], PROMPTS[:2]), expected, atol=1e-5)
    from_folder.save_pretrained(tmp_path / "edithf")
    assert not (tmp_path / "edithf" / "tiny_backbone.safetensors").exists()  # real backbones are not copied
    reloaded = EditHFModel.from_pretrained(str(tmp_path / "edithf")).eval()
    np.testing.assert_allclose(reloaded.score(square[:2], square[2:4], PROMPTS[:2]), expected, atol=1e-5)


def _lora_that_bites(model):
    model = EditHFModel.from_config(model.cfg).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model


def test_group_shared_prefix_scores_equal_one_by_one(model, images):
    """Instruction + source once (vision features, key/value cache), then the edits in batches of
    3: every row equals its own forward pass, also for edited images of other sizes (Qwen2-VL:
    other token counts, so padding sits between the prefix and the edit)."""
    model = _lora_that_bites(model)
    src, edited = images[0], [images[i % 6].resize((40 + 12 * i, 64)) for i in range(7)]
    one_by_one = np.concatenate([model.score([src], [e], ["make the sky pink"]) for e in edited])
    shared = model.score_group(src, edited, "make the sky pink", batch_size=3)
    np.testing.assert_allclose(shared, one_by_one, atol=1e-4)
    prefix = model.prepare_prefix(src, "make the sky pink")
    with torch.no_grad():
        full = model(**model.prepare([src] * 2, edited[:2], ["make the sky pink"] * 2))
        out = model.forward_shared(prefix, edited[:2])
    torch.testing.assert_close(out.level_logits, full.level_logits, atol=1e-4, rtol=1e-4)
    assert prefix.cache.get_seq_length() == prefix.batch["input_ids"].shape[1]  # left as it was
    assert len(set(np.round(shared[:, 0], 5))) > 1  # the edits do get different scores


def test_prefix_and_suffix_tokens_are_the_whole_prompt(model, images):
    from edithf.models import backbones

    user = model._user_prompt("make the sky pink")
    prefix, rest = backbones.encode_prefix(model.processor, model.adapter, model.cfg, images[0], user)
    suffix = backbones.encode_suffix(model.processor, model.adapter, model.cfg, images[3:4], rest,
                                     model.cfg.answer_prefixes)
    whole = model.prepare(images[:1], images[3:4], ["make the sky pink"])
    assert torch.equal(torch.cat([prefix["input_ids"], suffix["input_ids"].to(prefix["input_ids"].device)], 1).cpu(),
                       whole["input_ids"].cpu())


def test_evaluator_and_reward_groups_use_the_shared_path(images, tmp_path):
    from edithf.evaluators.registry import create_evaluator
    from edithf.reward.reward import EditReward
    from edithf.reward.selection import best_of_n

    ev = create_evaluator("edithf:tiny:internvl", device="cpu")
    edited = images[1:6]
    copies = [images[0].copy() for _ in edited]  # other objects: not recognised as one source
    per_edit = ev.score(copies, edited, ["add a hat"] * 5, batch_size=2)
    group = ev.score_group(images[0], edited, "add a hat", batch_size=2)
    cols = ["quality", "alignment", "preservation", "overall"]
    np.testing.assert_allclose(group[cols].to_numpy(float), per_edit[cols].to_numpy(float), atol=1e-4)
    assert list(group["level_quality"]) == list(per_edit["level_quality"])
    calls = []
    ev._score_batch = lambda *a: calls.append(a) or {}  # the shared path must not fall back to per-edit batches
    reward = EditReward(ev, batch_size=3)
    np.testing.assert_allclose(reward(images[0], edited, "add a hat").reward, per_edit["overall"], atol=1e-4)
    best, _ = best_of_n(reward, images[0], edited, "add a hat")
    assert best == int(np.argmax(per_edit["overall"])) and not calls
    # a batch of rows naming one source file and one instruction (a dataset group) takes it too
    images[0].save(tmp_path / "src.png")
    rows = ev.score([str(tmp_path / "src.png")] * 5, edited, ["add a hat"] * 5, batch_size=5)
    np.testing.assert_allclose(rows[cols].to_numpy(float), per_edit[cols].to_numpy(float), atol=1e-4)
    assert not calls


def test_checkpoints_of_the_old_prompt_layout_are_refused(tmp_path):
    import json

    model = EditHFModel.from_config(EditHFConfig(backbone="tiny:internvl"))
    model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "edithf_config.json").read_text())
    (tmp_path / "m" / "edithf_config.json").write_text(json.dumps({**cfg, "format_version": 1}))
    with pytest.raises(ValueError, match="instruction after the images.*retrain"):
        EditHFModel.from_pretrained(str(tmp_path / "m"))


def test_a_prompt_that_cannot_be_cut_falls_back_to_one_by_one(images, monkeypatch):
    from edithf.evaluators.registry import create_evaluator
    from edithf.models import backbones
    from edithf.models.families import PrefixSplitError, split_at_edited_image

    ev = create_evaluator("edithf:tiny:qwen2_vl", device="cpu")
    prefix, suffix = split_at_edited_image(ev.model.processor, "a <|image_pad|> b <|image_pad|> c")
    assert (prefix, suffix) == ("a <|image_pad|> b ", "<|image_pad|> c")

    def refuse(processor, text):
        raise PrefixSplitError("cannot cut")

    monkeypatch.setattr(backbones, "split_at_edited_image", refuse)
    group = ev.score_group(images[0], images[1:4], "add a hat")
    per_edit = ev.score([images[0].copy() for _ in range(3)], images[1:4], ["add a hat"] * 3)
    np.testing.assert_allclose(group["quality"], per_edit["quality"], atol=1e-4)
