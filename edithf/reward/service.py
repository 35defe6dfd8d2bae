"""The batched reward over HTTP on localhost, for online RL loops (`edithf serve`).

    service = RewardService(EditReward("edithf:runs/x/best"), max_batch=32, max_wait_s=0.02)
    server = make_server(service, "127.0.0.1", 8321); server.serve_forever()

POST /score, JSON: {"source": PNG base64, "edited": [PNG base64, ...], "prompt": "..."}
(a single "edited" string is one edit) -> 200 {"scores": [{"quality": ..., "alignment": ...,
"preservation": ..., "overall": ...}, ...], "reward": [overall, ...]} in the order sent.
GET /health -> {"scorer", "weights", "dimensions", "max_batch", "max_wait_s"}.
Bad requests get 400 {"error": "what was wrong"}; a scorer failure 500 {"error": ...}.

Why a batching worker: an RL trainer sends one request per prompt group from many workers at
once; the scorer is fastest on full batches, so one thread gathers whatever requests arrive
within `max_wait_s` (up to `max_batch` edits) and scores them in one call. HTTP threads only
decode and wait. The client is edithf.reward.client.
"""
from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from edithf.data.images import ImageLoadError, load_image
from edithf.data.schema import DIMENSIONS

MAX_BODY_BYTES = 256 * 2**20  # one request: a few hundred megapixels of PNG at most


class BadRequest(ValueError):
    """A request that cannot be scored; the message goes back to the client with a 400."""


@dataclass
class _Job:
    source: object  # decoded PIL image
    edited: list
    prompt: str
    done: Future = field(default_factory=Future)


def decode_request(body: bytes) -> tuple[object, list, str]:
    """(source, edited images, prompt) from a /score body, or BadRequest saying what is wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadRequest('the body must be a JSON object {"source", "edited", "prompt"}')
    missing = [k for k in ("source", "edited", "prompt") if k not in data]
    if missing:
        raise BadRequest(f"missing field(s) {missing}: send source (PNG base64), edited (list of PNG base64), prompt")
    prompt = data["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise BadRequest("prompt must be a non-empty string: the instruction the edits followed")
    edited = [data["edited"]] if isinstance(data["edited"], str) else data["edited"]
    if not isinstance(edited, list) or not edited:
        raise BadRequest("edited must be a PNG base64 string or a non-empty list of them")
    return _image(data["source"], "source"), [_image(e, f"edited[{i}]") for i, e in enumerate(edited)], prompt


def _image(text, name: str):
    if not isinstance(text, str):
        raise BadRequest(f"{name} must be a base64 string of an image file (PNG), got {type(text).__name__}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(f"{name} is not valid base64 ({exc})") from exc
    try:
        return load_image(raw)
    except ImageLoadError as exc:
        raise BadRequest(f"{name}: {exc}") from exc


class RewardService:
    """A queue of scoring jobs and one worker thread that scores them in batches."""

    def __init__(self, reward, *, max_batch: int = 32, max_wait_s: float = 0.02):
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_s >= 0; got {max_batch}, {max_wait_s}")
        self.reward, self.max_batch, self.max_wait_s = reward, int(max_batch), float(max_wait_s)
        self.batches: list[int] = []  # edits per scorer call, for tests and logs
        self._jobs: queue.Queue = queue.Queue()
        self._worker = threading.Thread(target=self._serve_jobs, name="edithf-reward-batcher", daemon=True)
        self._worker.start()

    def submit(self, source, edited: list, prompt: str) -> Future:
        job = _Job(source, list(edited), prompt)
        self._jobs.put(job)
        return job.done

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join()

    def _serve_jobs(self) -> None:
        while (first := self._jobs.get()) is not None:
            jobs = self._gather(first)
            try:
                self._score(jobs)
            except Exception as exc:  # the scorer failed: every waiting request hears why
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
            if jobs[-1] is None:
                return

    def _gather(self, first: _Job) -> list:
        """`first` plus the jobs that arrive within max_wait_s, up to max_batch edits (a job is
        never split). A None (close) ends the list."""
        import time

        jobs, size, deadline = [first], len(first.edited), time.monotonic() + self.max_wait_s
        while size < self.max_batch:
            try:
                job = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            jobs.append(job)
            if job is None:
                break
            size += len(job.edited)
        return jobs

    def _score(self, jobs: list) -> None:
        jobs = [j for j in jobs if j is not None]
        if not jobs:
            return
        sources = [j.source for j in jobs for _ in j.edited]
        out = self.reward(sources, [e for j in jobs for e in j.edited], [j.prompt for j in jobs for _ in j.edited])
        self.batches.append(len(sources))
        table = out.scores[[*DIMENSIONS, "overall"]].astype(float)
        rows = table.astype(object).where(table.notna(), None).to_dict("records")  # NaN (not judged) -> null
        start = 0
        for job in jobs:
            job.done.set_result(rows[start:start + len(job.edited)])
            start += len(job.edited)

    def health(self) -> dict:
        return {"scorer": self.reward.name, "weights": self.reward.weights, "dimensions": list(DIMENSIONS),
                "max_batch": self.max_batch, "max_wait_s": self.max_wait_s}


def make_server(service: RewardService, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threading HTTP server bound to host:port (0 = a free port: `server.server_address`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/health":
                return self._send(404, {"error": f"no such path {self.path!r}; use POST /score or GET /health"})
            self._send(200, service.health())

        def do_POST(self):
            if self.path != "/score":
                return self._send(404, {"error": f"no such path {self.path!r}; use POST /score or GET /health"})
            try:
                source, edited, prompt = decode_request(self._body())
            except BadRequest as exc:
                return self._send(400, {"error": str(exc)})
            try:
                rows = service.submit(source, edited, prompt).result()
            except Exception as exc:  # the scorer's own message, e.g. a bad image for this scorer
                return self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            self._send(200, {"scores": rows, "reward": [r["overall"] for r in rows]})

        def _body(self) -> bytes:
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError as exc:
                raise BadRequest("send a Content-Length header with the JSON body") from exc
            if not 0 < length <= MAX_BODY_BYTES:
                raise BadRequest(f"the body must be 1 byte to {MAX_BODY_BYTES // 2**20} MiB, got {length} bytes")
            return self.rfile.read(length)

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet: an RL loop sends thousands of requests
            pass

    return ThreadingHTTPServer((host, port), Handler)
