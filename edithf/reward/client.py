"""Python client of the reward service (edithf.reward.service, `edithf serve`).

    client = RewardClient("http://127.0.0.1:8321")
    out = client.score(source, [edit_1, edit_2, ...], "make the sky pink")
    out.reward   # np.ndarray (N,): the weighted overall per edit
    out.scores   # DataFrame: quality, alignment, preservation, overall

Images (PIL, paths, bytes, or numpy (H, W, 3) uint8) travel as PNG base64, so what the service
scores is exactly the pixels sent. Standard library HTTP only; safe to call from many threads.
"""
from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request

import numpy as np
import pandas as pd

from edithf.data.images import load_image
from edithf.reward.reward import RewardOutput


class RewardServiceError(RuntimeError):
    """The service answered with an error; the message is the service's."""


def png_base64(image) -> str:
    if isinstance(image, np.ndarray):
        from PIL import Image

        image = Image.fromarray(image)
    buf = io.BytesIO()
    load_image(image).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


class RewardClient:
    def __init__(self, url: str = "http://127.0.0.1:8321", timeout_s: float = 600.0):
        self.url, self.timeout_s = url.rstrip("/"), timeout_s

    def health(self) -> dict:
        return self._request("GET", "/health")

    def score(self, source, edited: list, prompt: str) -> RewardOutput:
        """Rewards of the edits of one source under one instruction (one RL prompt group)."""
        payload = {"source": png_base64(source), "edited": [png_base64(e) for e in edited], "prompt": prompt}
        out = self._request("POST", "/score", json.dumps(payload).encode())
        scores = pd.DataFrame(out["scores"]).astype(float)
        return RewardOutput(reward=scores["overall"].to_numpy(dtype=np.float64), scores=scores)

    def _request(self, method: str, path: str, body: bytes | None = None) -> dict:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            message = exc.read().decode(errors="replace")
            try:
                message = json.loads(message)["error"]
            except (ValueError, KeyError, TypeError):
                pass
            raise RewardServiceError(f"{self.url}{path} answered {exc.code}: {message}") from None
