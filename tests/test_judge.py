"""Zero-shot judge: level-word probabilities of a (tiny) VLM, checked against the full LM head."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from edithf.data.schema import LEVELS
from edithf.evaluators.registry import create_evaluator
from edithf.evaluators.judge import answer_prefix


@pytest.fixture(scope="module")
def judge():
    return create_evaluator("judge:tiny:qwen2_vl", device="cpu")


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(2)
    return [Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)) for _ in range(2)]


def test_judge_matches_full_lm_head_and_scores_every_dimension(judge, pair):
    src, ed = pair
    df = judge.score([src, ed], [ed, src], ["make it snow", "turn the cat into a dog"])
    assert list(df.columns[:4]) == ["quality", "alignment", "preservation", "overall"]
    assert df[["quality", "alignment", "preservation"]].apply(lambda c: c.between(10, 90)).all().all()
    assert set(df["level_quality"]) <= set(LEVELS)
    assert df.loc[0, ["quality", "alignment", "preservation"]].nunique() == 3  # different prompts per dimension

    # independent check: run the whole model (logits over the full vocabulary) on the prompt + prefix
    probs = judge.level_probabilities([src], [ed], ["make it snow"], "alignment")[0]
    tok = judge.processor.tokenizer
    messages = [{"role": "user", "content": [
        {"type": "text", "text": judge_user(judge, "make it snow", "alignment") + "\nSource image: "},
        {"type": "image"}, {"type": "text", "text": "\nEdited image: "}, {"type": "image"}]}]
    text = judge.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    batch = judge.processor(text=[text + answer_prefix("alignment")], images=[src, ed], return_tensors="pt")
    with torch.no_grad():
        logits = judge.model(**batch).logits[0, -1]
    full = logits[judge.level_ids].softmax(-1)
    torch.testing.assert_close(probs, full, rtol=1e-4, atol=1e-5)
    expected = float((full * torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])).sum() * 100)
    assert judge.score_one(src, ed, "make it snow")["alignment"] == pytest.approx(expected, rel=1e-4)
    assert tok.decode(judge.level_ids[3]).strip() == "good"


def judge_user(judge, instruction, dim):
    from edithf.evaluators.judge import RUBRICS, USER

    return USER.format(instruction=instruction, rubric=RUBRICS[dim])


def test_judge_bad_input(judge, pair, tmp_path):
    from edithf.data.images import ImageLoadError
    from edithf.evaluators.base import InputError

    src, ed = pair
    with pytest.raises(InputError, match="same length"):
        judge.score([src, src], [ed], ["a", "b"])
    with pytest.raises(InputError, match="empty"):
        judge.score([src], [ed], [""])
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageLoadError, match="broken.png"):
        judge.score([bad], [ed], ["x"])
