"""`edithf serve`: the batched reward over HTTP on localhost (edithf.reward.service + client)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from edithf.reward.client import RewardClient, RewardServiceError, png_base64
from edithf.reward.reward import EditReward
from edithf.reward.service import RewardService, make_server


@pytest.fixture(scope="module")
def served():
    reward = EditReward("dummy", batch_size=4)
    service = RewardService(reward, max_batch=64, max_wait_s=0.2)  # long wait: concurrent requests meet
    server = make_server(service, "127.0.0.1", 0)  # a free port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield reward, service, f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    service.close()


def _group(seed: int, n: int):
    rng = np.random.default_rng(seed)
    source = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    edits = [Image.fromarray(np.clip(np.asarray(source) + rng.integers(-60, 60, (48, 64, 3)), 0, 255)
                             .astype(np.uint8)) for _ in range(n)]
    return source, edits, f"make it brighter, variant {seed}"


def test_concurrent_requests_are_batched_and_equal_in_process_scores(served):
    reward, service, url = served
    client = RewardClient(url)
    assert client.health()["scorer"] == "dummy"
    groups = [_group(seed, n) for seed, n in enumerate([3, 1, 4, 2, 5, 3])]
    before = len(service.batches)
    with ThreadPoolExecutor(len(groups)) as pool:
        answers = list(pool.map(lambda g: client.score(*g), groups))
    for (source, edits, prompt), got in zip(groups, answers):
        expected = reward(source, edits, prompt)  # in process, same scorer and weights
        np.testing.assert_allclose(got.reward, expected.reward, atol=1e-9)
        cols = ["quality", "alignment", "preservation", "overall"]
        np.testing.assert_allclose(got.scores[cols].to_numpy(), expected.scores[cols].to_numpy(float), atol=1e-9)
    batches = service.batches[before:]
    assert sum(batches) == 18 and len(batches) < len(groups)  # requests were gathered into batches


def _post(url: str, body: bytes):
    req = urllib.request.Request(url + "/score", data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_bad_requests_get_a_400_that_says_what_is_wrong(served):
    url = served[2]
    source, edits, _ = _group(0, 1)
    good = {"source": png_base64(source), "edited": [png_base64(edits[0])], "prompt": "x"}
    cases = [
        (b"not json", "not JSON"),
        (json.dumps({"source": good["source"], "prompt": "x"}).encode(), r"missing field\(s\) \['edited'\]"),
        (json.dumps({**good, "prompt": "  "}).encode(), "prompt must be a non-empty string"),
        (json.dumps({**good, "edited": []}).encode(), "non-empty list"),
        (json.dumps({**good, "source": "%%%"}).encode(), "source is not valid base64"),
        (json.dumps({**good, "edited": [png_base64(edits[0]), "aGVsbG8="]}).encode(), r"edited\[1\]"),
    ]
    for body, message in cases:
        status, answer = _post(url, body)
        assert status == 400, (body[:40], answer)
        assert re.search(message, answer["error"]), answer
    status, answer = _post(url, json.dumps(good).encode())
    assert status == 200 and len(answer["reward"]) == 1
    with pytest.raises(RewardServiceError, match="404.*no such path"):
        RewardClient(url)._request("GET", "/nope")


def test_edithf_serve_command_serves_on_a_free_port():
    proc = subprocess.Popen([sys.executable, "-m", "edithf", "serve", "--scorer", "dummy", "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        client = RewardClient(url)
        assert client.health()["scorer"] == "dummy"
        source, edits, prompt = _group(7, 2)
        np.testing.assert_allclose(client.score(source, edits, prompt).reward,
                                   EditReward("dummy")(source, edits, prompt).reward, atol=1e-9)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
